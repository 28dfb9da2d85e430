//! An interval index for byte ranges with a wide fan-out: a B+tree ordered by
//! `(first, length, tag)` whose inner nodes keep, for each child, its smallest key and
//! the largest last byte in its subtree. "Does anything overlap [first, last]" is one
//! walk from the root to a leaf (O(log n), with log base about 10), and listing the
//! overlapping entries adds the leaves holding them.
//!
//! Why not a binary tree: with 100,000 ranges a balanced binary tree is about 20 levels
//! deep, and each level is a dependent load from a node that is not in the L1 or L2
//! cache; here a node holds up to [`CAP`] entries in arrays by field (the first bytes
//! of all entries together, then their last bytes), so a query reads a few adjacent
//! cache lines per level on 4 to 5 levels instead of one line on each of 20.
//!
//! Ranges are given by their first and last byte as MS-FSA 2.1.4.10 computes them:
//! `last = first + length - 1` with wrapping arithmetic, so a zero-length range at X > 0
//! is the empty span [X, X-1]. Two spans overlap when `first1 <= last2 && last1 >=
//! first2`, which is exactly the 2.1.4.10 test (a zero-length range at X then overlaps
//! a range that contains both X-1 and X, and no other zero-length range). Ranges with
//! no such span (`{0, 0}`, which overlaps nothing, and ranges past 2^64-1) are never
//! stored here; [`span`] says which ones have one.
//!
//! A node is split when full and merged with (or refilled from) a neighbour when it
//! falls below a quarter full, so every node but the root is at least a quarter full
//! and all leaves are at one depth, under any sequence of inserts and removals. The
//! order is by key, not by a random priority: a client choosing lock offsets cannot
//! make the tree deeper than about log base 4 of its size, and the shape is the same
//! from run to run.

/// `(first offset, length, tag)`: the tag tells apart entries of one range.
pub(crate) type Key = (u64, u64, u64);

/// The inclusive span `(first, last)` of a range in the sense of MS-FSA 2.1.4.10, or
/// `None` when the range overlaps nothing ({0, 0}) or does not fit below 2^64
/// (MS-FSA 2.1.5.8 refuses such ranges with STATUS_INVALID_LOCK_RANGE).
pub(crate) fn span(offset: u64, length: u64) -> Option<(u64, u64)> {
    if offset == 0 && length == 0 {
        return None;
    }
    if length > 0 && offset.checked_add(length - 1).is_none() {
        return None;
    }
    Some((offset, offset.wrapping_add(length).wrapping_sub(1)))
}

/// Entries per leaf, children per inner node.
const CAP: usize = 16;
/// A node below this many entries is merged with a neighbour or refilled from it.
const MIN: usize = CAP / 4;
/// No node.
const NIL: u32 = u32::MAX;

/// One node. In a leaf, slot `i` is an entry: its key, its last byte and its value. In
/// an inner node, slot `i` is a child: the smallest key in it, the largest last byte in
/// it, and its index (`vals` unused).
///
/// The fields a query reads (first bytes, last bytes, children) come first and
/// together, so that a query's visit to a node reads adjacent cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Node<V> {
    len: usize,
    firsts: [u64; CAP],
    kids: [u32; CAP],
    lasts: [u64; CAP],
    /// Like `lasts`, over the marked entries only, where `xhas` says there are some.
    xlasts: [u64; CAP],
    xhas: [bool; CAP],
    lens: [u64; CAP],
    tags: [u64; CAP],
    vals: [V; CAP],
}

impl<V: Copy + Default> Node<V> {
    fn empty() -> Node<V> {
        Node {
            len: 0,
            firsts: [0; CAP],
            lens: [0; CAP],
            tags: [0; CAP],
            lasts: [0; CAP],
            xlasts: [0; CAP],
            xhas: [false; CAP],
            kids: [NIL; CAP],
            vals: [V::default(); CAP],
        }
    }

    fn key(&self, i: usize) -> Key {
        (self.firsts[i], self.lens[i], self.tags[i])
    }

    fn set(&mut self, i: usize, key: Key, (last, xlast): (u64, Option<u64>), kid: u32, val: V) {
        (self.firsts[i], self.lens[i], self.tags[i]) = key;
        self.lasts[i] = last;
        self.xlasts[i] = xlast.unwrap_or(0);
        self.xhas[i] = xlast.is_some();
        self.kids[i] = kid;
        self.vals[i] = val;
    }

    fn truncate(&mut self, len: usize) {
        self.len = len;
    }

    /// Opens a hole at `i` (the node has room).
    fn open_slot(&mut self, i: usize) {
        let n = self.len;
        debug_assert!(n < CAP);
        self.firsts.copy_within(i..n, i + 1);
        self.lens.copy_within(i..n, i + 1);
        self.tags.copy_within(i..n, i + 1);
        self.lasts.copy_within(i..n, i + 1);
        self.xlasts.copy_within(i..n, i + 1);
        self.xhas.copy_within(i..n, i + 1);
        self.kids.copy_within(i..n, i + 1);
        self.vals.copy_within(i..n, i + 1);
        self.len += 1;
    }

    fn close_slot(&mut self, i: usize) {
        let n = self.len;
        self.firsts.copy_within(i + 1..n, i);
        self.lens.copy_within(i + 1..n, i);
        self.tags.copy_within(i + 1..n, i);
        self.lasts.copy_within(i + 1..n, i);
        self.xlasts.copy_within(i + 1..n, i);
        self.xhas.copy_within(i + 1..n, i);
        self.kids.copy_within(i + 1..n, i);
        self.vals.copy_within(i + 1..n, i);
        self.len -= 1;
    }

    /// Appends slots `from..to` of `other`.
    fn append(&mut self, other: &Node<V>, from: usize, to: usize) {
        let n = self.len;
        let m = to - from;
        self.firsts[n..n + m].copy_from_slice(&other.firsts[from..to]);
        self.lens[n..n + m].copy_from_slice(&other.lens[from..to]);
        self.tags[n..n + m].copy_from_slice(&other.tags[from..to]);
        self.lasts[n..n + m].copy_from_slice(&other.lasts[from..to]);
        self.xlasts[n..n + m].copy_from_slice(&other.xlasts[from..to]);
        self.xhas[n..n + m].copy_from_slice(&other.xhas[from..to]);
        self.kids[n..n + m].copy_from_slice(&other.kids[from..to]);
        self.vals[n..n + m].copy_from_slice(&other.vals[from..to]);
        self.len += m;
    }

    /// The node's smallest key and largest last bytes (of all entries, of the marked
    /// ones): its slot in its parent.
    fn summary(&self) -> (Key, (u64, Option<u64>)) {
        let last = self.lasts[..self.len].iter().copied().max().unwrap_or(0);
        let xlast = (0..self.len).filter(|&i| self.xhas[i]).map(|i| self.xlasts[i]).max();
        (self.key(0), (last, xlast))
    }

    /// How many slots start before byte `first` (the slots are in key order, so these
    /// are the first ones).
    fn starting_before(&self, first: u64) -> usize {
        let mut c = 0;
        while c < self.len && self.firsts[c] < first {
            c += 1;
        }
        c
    }

    /// The first slot whose key is above `key` (`len` if none).
    fn position_after(&self, key: &Key) -> usize {
        let mut i = self.starting_before(key.0);
        while i < self.len && self.key(i) <= *key {
            i += 1;
        }
        i
    }

    /// Leaf: the slot holding `key`.
    fn slot_of(&self, key: &Key) -> Option<usize> {
        let mut i = self.starting_before(key.0);
        while i < self.len && self.firsts[i] == key.0 {
            if self.key(i) == *key {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// Inner node: the child whose key range holds `key` (the last one whose smallest
    /// key is at or below it; the first when `key` is below all).
    fn child_for(&self, key: &Key) -> usize {
        self.position_after(key).saturating_sub(1)
    }

    /// The slots whose span (leaf) or subtree (inner node) reaches into [first, last],
    /// as a bit mask: they start at or before `last` and end at or after `first`. One
    /// branch per slot (the slots start in order); the end test is a bit, not a branch.
    /// (Binary searches and branch-free counts over all slots were tried: slower, their
    /// loads depend on each other or they do more work on small nodes.)
    /// With `marked`, only slots reaching `first` with a marked entry count.
    fn overlap_mask(&self, first: u64, last: u64, marked: bool) -> u64 {
        let mut m = 0u64;
        let mut i = 0;
        if marked {
            while i < self.len && self.firsts[i] <= last {
                m |= u64::from(self.xhas[i] & (self.xlasts[i] >= first)) << i;
                i += 1;
            }
        } else {
            while i < self.len && self.firsts[i] <= last {
                m |= u64::from(self.lasts[i] >= first) << i;
                i += 1;
            }
        }
        m
    }
}

/// Byte ranges with a value each; see the module documentation.
pub(crate) struct IntervalIndex<V> {
    nodes: Vec<Node<V>>,
    /// Slots of freed nodes, reused first.
    free: Vec<u32>,
    root: u32,
    /// Levels above the leaves (0: the root is a leaf).
    height: usize,
    len: usize,
}

impl<V> Default for IntervalIndex<V> {
    fn default() -> Self {
        IntervalIndex { nodes: Vec::new(), free: Vec::new(), root: NIL, height: 0, len: 0 }
    }
}

impl<V> std::fmt::Debug for IntervalIndex<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalIndex").field("len", &self.len).field("height", &self.height).finish()
    }
}

impl<V: Copy + Default> IntervalIndex<V> {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn alloc(&mut self, node: Node<V>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len()).ok().filter(|&i| i != NIL).expect("interval index: too many nodes");
                self.nodes.push(node);
                i
            }
        }
    }

    fn release(&mut self, i: u32) {
        self.free.push(i);
    }

    /// Writes child `c`'s summary into slot `i` of inner node `t`.
    fn refresh(&mut self, t: u32, i: usize) {
        let c = self.nodes[t as usize].kids[i];
        let (key, (last, xlast)) = self.nodes[c as usize].summary();
        let n = &mut self.nodes[t as usize];
        (n.firsts[i], n.lens[i], n.tags[i]) = key;
        n.lasts[i] = last;
        n.xlasts[i] = xlast.unwrap_or(0);
        n.xhas[i] = xlast.is_some();
    }

    /// Adds an entry. The key must be new and its range must have a [`span`].
    pub(crate) fn insert(&mut self, key: Key, value: V) {
        self.insert_marked(key, value, false);
    }

    /// Adds an entry, marked or not: [`IntervalIndex::find_marked_overlap`] looks at
    /// the marked entries only, pruning by a second largest last byte per child.
    pub(crate) fn insert_marked(&mut self, key: Key, value: V, marked: bool) {
        let (_, last) = span(key.0, key.1).expect("interval index: range without a span");
        let last = (last, marked.then_some(last));
        debug_assert!(self.get(&key).is_none(), "interval index: duplicate key {key:?}");
        self.len += 1;
        if self.root == NIL {
            let mut leaf = Node::empty();
            leaf.len = 1;
            leaf.set(0, key, last, NIL, value);
            self.root = self.alloc(leaf);
            self.height = 0;
            return;
        }
        if let Some(right) = self.insert_at(self.root, self.height, key, last, value) {
            let left = self.root;
            let mut root = Node::empty();
            root.len = 2;
            root.kids[0] = left;
            root.kids[1] = right;
            self.root = self.alloc(root);
            self.refresh(self.root, 0);
            self.refresh(self.root, 1);
            self.height += 1;
        }
    }

    /// Inserts into the subtree `t` of height `h`; returns the new right sibling of `t`
    /// when `t` had to split.
    fn insert_at(&mut self, t: u32, h: usize, key: Key, last: (u64, Option<u64>), value: V) -> Option<u32> {
        let (pos, kid) = if h == 0 {
            (self.nodes[t as usize].position_after(&key), None)
        } else {
            let i = self.nodes[t as usize].child_for(&key);
            let c = self.nodes[t as usize].kids[i];
            let split = self.insert_at(c, h - 1, key, last, value);
            self.refresh(t, i);
            match split {
                None => return None,
                Some(s) => (i + 1, Some(s)),
            }
        };
        // Slot to add at `pos`: the entry (leaf) or the new child (inner).
        let (skey, slast, skid) = match kid {
            None => (key, last, NIL),
            Some(s) => {
                let (k, l) = self.nodes[s as usize].summary();
                (k, l, s)
            }
        };
        let mut right = None;
        let (target, at) = if self.nodes[t as usize].len == CAP {
            // Split in half, or, when appending past the last slot (locks taken in
            // increasing order, the usual way), keep the left node three quarters full:
            // a tree built in order then takes a third less memory, and cache.
            let keep = if pos == CAP { CAP - MIN } else { CAP / 2 };
            let mut r = Node::empty();
            r.append(&self.nodes[t as usize], keep, CAP);
            self.nodes[t as usize].truncate(keep);
            let ri = self.alloc(r);
            right = Some(ri);
            if pos <= keep { (t, pos) } else { (ri, pos - keep) }
        } else {
            (t, pos)
        };
        let n = &mut self.nodes[target as usize];
        n.open_slot(at);
        n.set(at, skey, slast, skid, value);
        right
    }

    /// The leaf and slot of `key`.
    fn find(&self, key: &Key) -> Option<(u32, usize)> {
        if self.root == NIL {
            return None;
        }
        let mut t = self.root;
        for _ in 0..self.height {
            let n = &self.nodes[t as usize];
            t = n.kids[n.child_for(key)];
        }
        self.nodes[t as usize].slot_of(key).map(|i| (t, i))
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&V> {
        self.find(key).map(|(t, i)| &self.nodes[t as usize].vals[i])
    }

    /// The value of an entry, to change in place (the key and range stay).
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut V> {
        self.find(key).map(|(t, i)| &mut self.nodes[t as usize].vals[i])
    }

    /// Removes an entry; returns its value.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<V> {
        if self.root == NIL {
            return None;
        }
        let v = self.remove_at(self.root, self.height, key)?;
        self.len -= 1;
        let root = &self.nodes[self.root as usize];
        if self.height > 0 && root.len == 1 {
            let old = self.root;
            self.root = root.kids[0];
            self.height -= 1;
            self.release(old);
        } else if self.height == 0 && root.len == 0 {
            self.root = NIL;
            self.nodes.clear();
            self.free.clear();
        }
        Some(v)
    }

    fn remove_at(&mut self, t: u32, h: usize, key: &Key) -> Option<V> {
        if h == 0 {
            let n = &mut self.nodes[t as usize];
            let i = n.slot_of(key)?;
            let v = n.vals[i];
            n.close_slot(i);
            return Some(v);
        }
        let i = self.nodes[t as usize].child_for(key);
        let c = self.nodes[t as usize].kids[i];
        let v = self.remove_at(c, h - 1, key)?;
        if self.nodes[c as usize].len < MIN {
            self.rebalance(t, i);
        } else {
            self.refresh(t, i);
        }
        Some(v)
    }

    /// Child `i` of `t` fell below [`MIN`]: merges it with a neighbour, or moves
    /// entries over from the neighbour when both do not fit in one node.
    fn rebalance(&mut self, t: u32, i: usize) {
        let n = &self.nodes[t as usize];
        debug_assert!(n.len >= 2, "an inner node other than the root has two children");
        let (a, b) = if i + 1 < n.len { (i, i + 1) } else { (i - 1, i) };
        let (ka, kb) = (n.kids[a], n.kids[b]);
        let (la, lb) = (self.nodes[ka as usize].len, self.nodes[kb as usize].len);
        if la + lb <= CAP {
            let right = self.nodes[kb as usize];
            self.nodes[ka as usize].append(&right, 0, lb);
            self.release(kb);
            self.nodes[t as usize].close_slot(b);
            self.refresh(t, a);
            return;
        }
        let half = (la + lb) / 2;
        if la < half {
            // Move the first `half - la` slots of b to the end of a.
            let m = half - la;
            let right = self.nodes[kb as usize];
            self.nodes[ka as usize].append(&right, 0, m);
            let mut rest = Node::empty();
            rest.append(&right, m, lb);
            self.nodes[kb as usize] = rest;
        } else {
            // Move the last `la - half` slots of a to the front of b.
            let left = self.nodes[ka as usize];
            let mut front = Node::empty();
            front.append(&left, half, la);
            front.append(&self.nodes[kb as usize], 0, lb);
            self.nodes[kb as usize] = front;
            self.nodes[ka as usize].truncate(half);
        }
        self.refresh(t, a);
        self.refresh(t, b);
    }

    /// Whether some entry overlaps the span [first, last] (MS-FSA 2.1.4.10). Every
    /// candidate slot of a node but its last lies wholly at or before `last`, so the
    /// walk ends at the first leaf it reaches, or follows one more path for the last.
    pub(crate) fn any_overlap(&self, first: u64, last: u64) -> bool {
        self.find_overlap(first, last, |_, _| true)
    }

    /// [`IntervalIndex::find_overlap`] over the marked entries only.
    pub(crate) fn find_marked_overlap(&self, first: u64, last: u64, mut pred: impl FnMut(&Key, &V) -> bool) -> bool {
        self.root != NIL && self.walk(self.root, self.height, first, last, true, &mut pred)
    }

    /// Whether some entry overlapping the span [first, last] satisfies `pred`. Entries
    /// are offered in key order; the walk stops at the first that satisfies it.
    pub(crate) fn find_overlap(&self, first: u64, last: u64, mut pred: impl FnMut(&Key, &V) -> bool) -> bool {
        self.root != NIL && self.walk(self.root, self.height, first, last, false, &mut pred)
    }

    fn walk(&self, t: u32, h: usize, first: u64, last: u64, marked: bool, pred: &mut impl FnMut(&Key, &V) -> bool) -> bool {
        let n = &self.nodes[t as usize];
        let mut mask = n.overlap_mask(first, last, marked);
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let hit = if h == 0 { pred(&n.key(i), &n.vals[i]) } else { self.walk(n.kids[i], h - 1, first, last, marked, pred) };
            if hit {
                return true;
            }
        }
        false
    }

    /// Calls `f` for every entry overlapping the span [first, last], in key order.
    pub(crate) fn for_each_overlap(&self, first: u64, last: u64, mut f: impl FnMut(&Key, &V)) {
        self.find_overlap(first, last, |k, v| {
            f(k, v);
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock_records::overlaps;

    /// Checks order, summaries, fill and equal leaf depth; returns the number of entries.
    fn check<V: Copy + Default>(t: &IntervalIndex<V>) -> usize {
        if t.root == NIL {
            assert_eq!(t.len, 0);
            return 0;
        }
        fn visit<V: Copy + Default>(t: &IntervalIndex<V>, i: u32, h: usize, root: bool, keys: &mut Vec<Key>) {
            let n = &t.nodes[i as usize];
            assert!(n.len >= 1 && n.len <= CAP);
            if !root {
                assert!(n.len >= MIN, "node below a quarter full: {}", n.len);
            } else if h > 0 {
                assert!(n.len >= 2, "inner root with one child");
            }
            for s in 0..n.len {
                if h == 0 {
                    let (_, last) = span(n.firsts[s], n.lens[s]).expect("stored ranges have a span");
                    assert_eq!(n.lasts[s], last);
                    assert!(!n.xhas[s] || n.xlasts[s] == last);
                    keys.push(n.key(s));
                } else {
                    let c = n.kids[s];
                    let x = n.xhas[s].then_some(n.xlasts[s]);
                    assert_eq!(t.nodes[c as usize].summary(), (n.key(s), (n.lasts[s], x)), "child summary");
                    visit(t, c, h - 1, false, keys);
                }
            }
        }
        let mut keys = Vec::new();
        visit(t, t.root, t.height, true, &mut keys);
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "key order");
        assert_eq!(keys.len(), t.len);
        keys.len()
    }

    #[test]
    fn spans() {
        assert_eq!(span(0, 0), None);
        assert_eq!(span(10, 0), Some((10, 9)));
        assert_eq!(span(0, 1), Some((0, 0)));
        assert_eq!(span(u64::MAX, 1), Some((u64::MAX, u64::MAX)));
        assert_eq!(span(u64::MAX, 0), Some((u64::MAX, u64::MAX - 1)));
        assert_eq!(span(u64::MAX, 2), None);
        assert_eq!(span(1, u64::MAX), Some((1, u64::MAX)), "ends exactly at 2^64");
        assert_eq!(span(2, u64::MAX), None);
        assert_eq!(span(0, u64::MAX), Some((0, u64::MAX - 1)));
    }

    /// The span test is the MS-FSA 2.1.4.10 test, zero-length ranges and the end of the
    /// address space included.
    #[test]
    fn span_overlap_is_fsa_overlap() {
        let points = [0u64, 1, 2, 9, 10, 11, 12, u64::MAX - 2, u64::MAX - 1, u64::MAX];
        let lengths = [0u64, 1, 2, 3, u64::MAX - 1, u64::MAX];
        let ranges: Vec<(u64, u64)> =
            points.iter().flat_map(|&o| lengths.iter().map(move |&l| (o, l))).filter(|&(o, l)| span(o, l).is_some()).collect();
        for &(o1, l1) in &ranges {
            for &(o2, l2) in &ranges {
                let (f1, e1) = span(o1, l1).unwrap();
                let (f2, e2) = span(o2, l2).unwrap();
                assert_eq!(f1 <= e2 && e1 >= f2, overlaps(o1, l1, o2, l2), "{o1}/{l1} vs {o2}/{l2}");
            }
        }
    }

    #[test]
    fn empty_index() {
        let mut t = IntervalIndex::<u32>::default();
        assert!(!t.any_overlap(0, u64::MAX));
        assert_eq!(t.remove(&(1, 1, 0)), None);
        assert_eq!(t.get_mut(&(1, 1, 0)), None);
        assert_eq!(t.len(), 0);
        let mut seen = 0;
        t.for_each_overlap(0, u64::MAX, |_, _| seen += 1);
        assert_eq!(seen, 0);
    }

    /// Queries against a brute-force scan of a `Vec` over many random inserts and
    /// removals (enough to split and merge at every level), with ranges at both ends of
    /// the address space and ranges nested in each other.
    #[test]
    fn matches_scan() {
        for (seed, spread) in [(0x1234_5678_9abc_def1u64, 300u64), (0x0bad_cafe_f00d_d00d, 5000), (77, 40)] {
            let mut g = crate::test_rng::XorShift::new(seed);
            let mut t = IntervalIndex::<u64>::default();
            let mut all: Vec<Key> = Vec::new();
            for step in 0..8000u64 {
                let base = if g.below(4) == 0 { u64::MAX - spread } else { 0 };
                let off = base + g.below(spread);
                let len = [0, 1, 2, 5, 40, 1000, u64::MAX - off][g.below(7) as usize];
                let len = if span(off, len).is_some() { len } else { 1 };
                // Grow to a few thousand entries, then shrink back to none.
                let removing = if step < 5000 { g.below(3) == 0 } else { g.below(5) != 0 };
                if removing && !all.is_empty() {
                    let k = all.swap_remove(g.below(all.len() as u64) as usize);
                    assert_eq!(t.remove(&k), Some(k.2));
                    assert_eq!(t.remove(&k), None);
                } else {
                    // Every third entry is marked (told by its tag).
                    let k = (off, len, step);
                    t.insert_marked(k, step, step % 3 == 0);
                    all.push(k);
                }
                let (qf, ql) = span(off, len).unwrap();
                let mut want: Vec<Key> = all.iter().copied().filter(|k| overlaps(k.0, k.1, off, len)).collect();
                want.sort();
                let mut got = Vec::new();
                t.for_each_overlap(qf, ql, |k, v| {
                    assert_eq!(k.2, *v);
                    got.push(*k);
                });
                assert_eq!(got, want, "query {off}/{len}");
                assert_eq!(t.any_overlap(qf, ql), !want.is_empty());
                // The marked walk offers exactly the marked overlapping entries.
                let want_marked: Vec<Key> = want.iter().copied().filter(|k| k.2 % 3 == 0).collect();
                let mut got_marked = Vec::new();
                t.find_marked_overlap(qf, ql, |k, _| {
                    got_marked.push(*k);
                    false
                });
                assert_eq!(got_marked, want_marked, "marked query {off}/{len}");
                // A predicate sees exactly the overlapping entries, and stops the walk.
                let odd = want.iter().find(|k| k.2 % 2 == 1).copied();
                let mut first_odd = None;
                assert_eq!(
                    t.find_overlap(qf, ql, |k, _| {
                        first_odd = Some(*k);
                        k.2 % 2 == 1
                    }),
                    odd.is_some()
                );
                if odd.is_some() {
                    assert_eq!(first_odd, odd);
                }
                assert_eq!(t.len(), all.len());
                if step.is_multiple_of(97) {
                    assert_eq!(check(&t), all.len());
                    if let Some(k) = all.first() {
                        assert_eq!(t.get(k), Some(&k.2));
                    }
                }
            }
            while let Some(k) = all.pop() {
                assert_eq!(t.remove(&k), Some(k.2));
                if all.len().is_multiple_of(101) {
                    assert_eq!(check(&t), all.len());
                }
            }
            assert_eq!(t.root, NIL);
            assert!(t.nodes.is_empty(), "nodes are released when the index empties");
        }
    }

    /// Keys inserted and removed in order (the usual shape of a client's locks) keep the
    /// tree shallow and its nodes filled.
    #[test]
    fn sorted_inserts_stay_shallow() {
        let mut t = IntervalIndex::<()>::default();
        for i in 0..100_000u64 {
            t.insert((i * 16, 8, 0), ());
        }
        assert_eq!(check(&t), 100_000);
        assert!(t.height <= 6, "height {}", t.height);
        // Appends leave the leaves three quarters full, not half.
        let leaves = 100_000usize.div_ceil(CAP - MIN);
        assert!(t.nodes.len() - t.free.len() < leaves + leaves / 8, "{} nodes", t.nodes.len());
        assert!(t.any_overlap(16 * 500 + 7, 16 * 500 + 7));
        assert!(!t.any_overlap(16 * 500 + 8, 16 * 500 + 15));
        // Removing every other lock merges and refills nodes all over the tree.
        for i in (0..100_000u64).step_by(2) {
            t.remove(&(i * 16, 8, 0)).expect("present");
        }
        assert_eq!(check(&t), 50_000);
        for i in (0..50_000u64).rev().map(|k| 2 * k + 1) {
            t.remove(&(i * 16, 8, 0)).expect("present");
        }
        assert_eq!(t.root, NIL);
        assert!(t.nodes.is_empty());
    }

    /// One range covering everything, among many small ones: found from any query.
    #[test]
    fn long_range_is_found_everywhere() {
        let mut t = IntervalIndex::<u32>::default();
        for i in 1..10_000u64 {
            t.insert((i * 16, 8, 0), 0);
        }
        assert!(!t.any_overlap(16 * 5000 + 9, 16 * 5000 + 12));
        t.insert((3, u64::MAX - 2, 1), 0);
        assert!(t.any_overlap(16 * 5000 + 9, 16 * 5000 + 12));
        assert!(t.any_overlap(u64::MAX, u64::MAX));
        assert!(!t.any_overlap(0, 2));
    }

    #[test]
    fn values_change_in_place() {
        let mut t = IntervalIndex::<u32>::default();
        t.insert((5, 5, 0), 1);
        *t.get_mut(&(5, 5, 0)).unwrap() += 2;
        assert_eq!(t.get(&(5, 5, 0)), Some(&3));
        assert!(t.any_overlap(9, 9));
        assert!(!t.any_overlap(10, 20));
    }
}
