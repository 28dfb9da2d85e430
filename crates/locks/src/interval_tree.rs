//! An interval index for byte ranges: a treap ordered by `(first, length, tag)` whose
//! nodes carry the largest last byte of their subtree, so that "does anything overlap
//! [first, last]" takes O(log n) and listing the overlapping entries O(log n) per entry
//! found (expected, over the random priorities).
//!
//! Ranges are given by their first and last byte as MS-FSA 2.1.4.10 computes them:
//! `last = first + length - 1` with wrapping arithmetic, so a zero-length range at X > 0
//! is the empty span [X, X-1]. Two spans overlap when `first1 <= last2 && last1 >=
//! first2`, which is exactly the 2.1.4.10 test (a zero-length range at X then overlaps
//! a range that contains both X-1 and X, and no other zero-length range). Ranges with
//! no such span (`{0, 0}`, which overlaps nothing, and ranges past 2^64-1) are never
//! stored here; [`span`] says which ones have one.
//!
//! Priorities come from a generator seeded from the standard library's per-process
//! random hash keys, so a client choosing lock offsets cannot shape the tree into a
//! list.

use std::cmp::Ordering;
use std::hash::{BuildHasher, RandomState};

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

/// No node: the index of an absent child.
const NIL: u32 = u32::MAX;

/// Nodes live in one vector and link by index: smaller than boxed nodes, and closer
/// together in memory, which is what a query's walk down the tree pays for.
struct Node<V> {
    key: Key,
    last: u64,
    /// The largest `last` in this subtree.
    max_last: u64,
    /// The largest `last` in the left subtree (when there is one): a query reads it
    /// here rather than in the child, one memory access fewer per level.
    left_max: u64,
    prio: u32,
    left: u32,
    right: u32,
    value: V,
}

/// Treap priorities: xorshift64* from a per-process random seed.
#[derive(Default)]
struct Priorities(u64);

impl Priorities {
    fn next(&mut self) -> u32 {
        if self.0 == 0 {
            self.0 = RandomState::new().hash_one(0x6c6f_636b_u64) | 1;
        }
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// Byte ranges with a value each; see the module documentation.
pub(crate) struct IntervalTree<V> {
    nodes: Vec<Node<V>>,
    /// Slots of removed nodes, reused first.
    free: Vec<u32>,
    root: u32,
    len: usize,
    prio: Priorities,
}

impl<V> Default for IntervalTree<V> {
    fn default() -> Self {
        IntervalTree { nodes: Vec::new(), free: Vec::new(), root: NIL, len: 0, prio: Priorities::default() }
    }
}

impl<V> std::fmt::Debug for IntervalTree<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalTree").field("len", &self.len).finish()
    }
}

impl<V> IntervalTree<V> {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn max_last(&self, i: u32) -> Option<u64> {
        (i != NIL).then(|| self.nodes[i as usize].max_last)
    }

    fn update(&mut self, i: u32) {
        let n = &self.nodes[i as usize];
        let left_max = self.max_last(n.left).unwrap_or(0);
        let m = n.last.max(left_max).max(self.max_last(n.right).unwrap_or(0));
        let n = &mut self.nodes[i as usize];
        n.max_last = m;
        n.left_max = left_max;
    }

    /// Adds an entry. The key must be new and its range must have a [`span`].
    pub(crate) fn insert(&mut self, key: Key, value: V) {
        let (_, last) = span(key.0, key.1).expect("interval tree: range without a span");
        debug_assert!(self.get(&key).is_none(), "interval tree: duplicate key {key:?}");
        let node = Node { key, last, max_last: last, left_max: 0, prio: self.prio.next(), left: NIL, right: NIL, value };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len()).ok().filter(|&i| i != NIL).expect("interval tree: too many entries");
                self.nodes.push(node);
                i
            }
        };
        self.root = self.insert_at(self.root, i);
        self.len += 1;
    }

    /// Inserts node `i` into the subtree `t`; returns the subtree's new root.
    fn insert_at(&mut self, t: u32, i: u32) -> u32 {
        if t == NIL {
            return i;
        }
        if self.nodes[t as usize].prio < self.nodes[i as usize].prio {
            let key = self.nodes[i as usize].key;
            let (l, r) = self.split(t, &key);
            let n = &mut self.nodes[i as usize];
            n.left = l;
            n.right = r;
            self.update(i);
            return i;
        }
        let (key, last) = (self.nodes[i as usize].key, self.nodes[i as usize].last);
        let n = &mut self.nodes[t as usize];
        n.max_last = n.max_last.max(last);
        if key < n.key {
            n.left_max = if n.left == NIL { last } else { n.left_max.max(last) };
            let l = n.left;
            self.nodes[t as usize].left = self.insert_at(l, i);
        } else {
            let r = n.right;
            self.nodes[t as usize].right = self.insert_at(r, i);
        }
        t
    }

    /// Splits subtree `t` into the entries below `key` and the others.
    fn split(&mut self, t: u32, key: &Key) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.nodes[t as usize].key < *key {
            let (l, r) = self.split(self.nodes[t as usize].right, key);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Joins two subtrees, every key of `a` being below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio >= self.nodes[b as usize].prio {
            let m = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = m;
            self.update(a);
            a
        } else {
            let m = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = m;
            self.update(b);
            b
        }
    }

    fn find(&self, key: &Key) -> Option<u32> {
        let mut cur = self.root;
        while cur != NIL {
            let n = &self.nodes[cur as usize];
            cur = match key.cmp(&n.key) {
                Ordering::Less => n.left,
                Ordering::Greater => n.right,
                Ordering::Equal => return Some(cur),
            };
        }
        None
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&V> {
        self.find(key).map(|i| &self.nodes[i as usize].value)
    }

    /// The value of an entry, to change in place (the key and range stay).
    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut V> {
        self.find(key).map(|i| &mut self.nodes[i as usize].value)
    }

    /// Removes an entry; the value is left in its slot until the slot is reused.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<V>
    where
        V: Copy,
    {
        let (root, removed) = self.remove_at(self.root, key);
        self.root = root;
        let i = removed?;
        self.len -= 1;
        let v = self.nodes[i as usize].value;
        if self.len == 0 {
            self.nodes.clear();
            self.free.clear();
        } else {
            self.free.push(i);
        }
        Some(v)
    }

    /// Removes `key` from subtree `t`: the subtree's new root and the removed slot.
    fn remove_at(&mut self, t: u32, key: &Key) -> (u32, Option<u32>) {
        if t == NIL {
            return (NIL, None);
        }
        let n = &self.nodes[t as usize];
        let (l, r) = (n.left, n.right);
        match key.cmp(&n.key) {
            Ordering::Equal => (self.merge(l, r), Some(t)),
            Ordering::Less => {
                let (sub, removed) = self.remove_at(l, key);
                if removed.is_some() {
                    self.nodes[t as usize].left = sub;
                    self.update(t);
                }
                (t, removed)
            }
            Ordering::Greater => {
                let (sub, removed) = self.remove_at(r, key);
                if removed.is_some() {
                    self.nodes[t as usize].right = sub;
                    self.update(t);
                }
                (t, removed)
            }
        }
    }

    /// Whether some entry overlaps the span [first, last] (MS-FSA 2.1.4.10).
    pub(crate) fn any_overlap(&self, first: u64, last: u64) -> bool {
        let mut cur = self.root;
        while cur != NIL {
            let n = &self.nodes[cur as usize];
            if n.max_last < first {
                return false;
            }
            if n.key.0 <= last {
                // This node and its whole left subtree start at or before `last`.
                if n.last >= first || (n.left != NIL && n.left_max >= first) {
                    return true;
                }
                cur = n.right;
            } else {
                cur = n.left;
            }
        }
        false
    }

    /// Calls `f` for every entry overlapping the span [first, last], in key order.
    pub(crate) fn for_each_overlap(&self, first: u64, last: u64, mut f: impl FnMut(&Key, &V)) {
        self.visit(self.root, first, last, &mut f);
    }

    fn visit(&self, t: u32, first: u64, last: u64, f: &mut impl FnMut(&Key, &V)) {
        if t == NIL {
            return;
        }
        let n = &self.nodes[t as usize];
        if n.max_last < first {
            return;
        }
        self.visit(n.left, first, last, f);
        if n.key.0 <= last {
            if n.last >= first {
                f(&n.key, &n.value);
            }
            self.visit(n.right, first, last, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock_records::overlaps;

    /// Checks the heap order, key order and `max_last` of every node; returns the depth.
    fn check<V>(t: &IntervalTree<V>, i: u32, lo: Option<Key>, hi: Option<Key>) -> usize {
        if i == NIL {
            return 0;
        }
        let n = &t.nodes[i as usize];
        assert!(lo.is_none_or(|lo| lo < n.key) && hi.is_none_or(|hi| n.key < hi), "key order");
        let mut m = n.last;
        for c in [n.left, n.right] {
            if c != NIL {
                assert!(t.nodes[c as usize].prio <= n.prio, "heap order");
                m = m.max(t.nodes[c as usize].max_last);
            }
        }
        assert_eq!(n.max_last, m, "max_last");
        if n.left != NIL {
            assert_eq!(n.left_max, t.nodes[n.left as usize].max_last, "left_max");
        }
        1 + check(t, n.left, lo, Some(n.key)).max(check(t, n.right, Some(n.key), hi))
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
    fn empty_tree() {
        let mut t = IntervalTree::<u32>::default();
        assert!(!t.any_overlap(0, u64::MAX));
        assert_eq!(t.remove(&(1, 1, 0)), None);
        assert_eq!(t.get_mut(&(1, 1, 0)), None);
        assert_eq!(t.len(), 0);
        let mut seen = 0;
        t.for_each_overlap(0, u64::MAX, |_, _| seen += 1);
        assert_eq!(seen, 0);
    }

    /// Queries against a brute-force scan over many random inserts and removals, with
    /// ranges at both ends of the address space; the tree's shape stays logarithmic.
    #[test]
    fn matches_scan() {
        let mut g = 0x1234_5678_9abc_def1u64;
        let mut rnd = move |n: u64| {
            g ^= g << 13;
            g ^= g >> 7;
            g ^= g << 17;
            g % n
        };
        let mut t = IntervalTree::<u64>::default();
        let mut all: Vec<Key> = Vec::new();
        for step in 0..6000u64 {
            let base = if rnd(4) == 0 { u64::MAX - 300 } else { 0 };
            let off = base + rnd(300);
            let len = [0, 1, 2, 5, 40, u64::MAX - off][rnd(6) as usize];
            // {0, 0} has no span: take one byte instead.
            let len = if span(off, len).is_some() { len } else { 1 };
            if rnd(3) == 0 && !all.is_empty() {
                let k = all.swap_remove(rnd(all.len() as u64) as usize);
                assert_eq!(t.remove(&k), Some(k.2));
            } else {
                let k = (off, len, step);
                t.insert(k, step);
                all.push(k);
            }
            let (qf, ql) = span(off, len).unwrap();
            let want: Vec<Key> = {
                let mut v: Vec<Key> = all.iter().copied().filter(|k| overlaps(k.0, k.1, off, len)).collect();
                v.sort();
                v
            };
            let mut got = Vec::new();
            t.for_each_overlap(qf, ql, |k, v| {
                assert_eq!(k.2, *v);
                got.push(*k);
            });
            assert_eq!(got, want, "query {off}/{len}");
            assert_eq!(t.any_overlap(qf, ql), !want.is_empty());
            assert_eq!(t.len(), all.len());
        }
        let depth = check(&t, t.root, None, None);
        assert!(depth < 64, "depth {depth} for {} entries", t.len());
    }

    /// Keys inserted in order (the usual shape of a client's locks) still give a shallow tree.
    #[test]
    fn sorted_inserts_stay_shallow() {
        let mut t = IntervalTree::<()>::default();
        for i in 0..100_000u64 {
            t.insert((i * 16, 8, 0), ());
        }
        let depth = check(&t, t.root, None, None);
        assert!(depth < 80, "depth {depth}");
        assert!(t.any_overlap(16 * 500 + 7, 16 * 500 + 7));
        assert!(!t.any_overlap(16 * 500 + 8, 16 * 500 + 15));
        for i in 0..100_000u64 {
            t.remove(&(i * 16, 8, 0)).expect("present");
        }
        assert_eq!(t.root, NIL);
        assert!(t.nodes.is_empty(), "slots are released when the tree empties");
    }

    #[test]
    fn values_change_in_place() {
        let mut t = IntervalTree::<u32>::default();
        t.insert((5, 5, 0), 1);
        *t.get_mut(&(5, 5, 0)).unwrap() += 2;
        assert_eq!(t.get(&(5, 5, 0)), Some(&3));
        assert!(t.any_overlap(9, 9));
        assert!(!t.any_overlap(10, 20));
    }
}
