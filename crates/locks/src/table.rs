//! [`Table`]: a hash map whose values live in a slab (a vector whose freed slots are
//! reused, most recently freed first), for the lock core's opens and files.
//!
//! A hash table with 100,000 opens spreads them over megabytes, and inserting or
//! looking up an entry touches a random cache line of it. Here the hash table holds
//! only a key and a slot number per entry (a fifth of the bytes of an open), and a new
//! entry takes the slot the last removed one left, which is still in cache: opening a
//! file when 100,000 others are open touches one small random line (the index)
//! instead of two large ones.

use crate::hash::FastMap;
use std::hash::Hash;

#[derive(Debug)]
pub(crate) struct Table<K, V> {
    index: FastMap<K, u32>,
    slots: Vec<Option<(K, V)>>,
    /// Free slots, the most recently freed last.
    free: Vec<u32>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table { index: FastMap::default(), slots: Vec::new(), free: Vec::new() }
    }
}

impl<K: Copy + Eq + Hash, V> Table<K, V> {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn contains_key(&self, k: &K) -> bool {
        self.index.contains_key(k)
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        let &i = self.index.get(k)?;
        self.slots[i as usize].as_ref().map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let &i = self.index.get(k)?;
        self.slots[i as usize].as_mut().map(|(_, v)| v)
    }

    fn place(&mut self, k: K, v: V) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some((k, v));
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("table: too many entries");
                self.slots.push(Some((k, v)));
                i
            }
        }
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        if let Some(old) = self.get_mut(&k) {
            return Some(std::mem::replace(old, v));
        }
        let i = self.place(k, v);
        self.index.insert(k, i);
        None
    }

    /// The value of `k`, inserted with `make` if absent.
    pub(crate) fn get_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(&k) {
            Some(&i) => i,
            None => {
                let i = self.place(k, make());
                self.index.insert(k, i);
                i
            }
        };
        &mut self.slots[i as usize].as_mut().expect("indexed slot is full").1
    }

    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.index.remove(k)?;
        let (_, v) = self.slots[i as usize].take().expect("indexed slot is full");
        if self.index.is_empty() {
            self.slots.clear();
            self.free.clear();
        } else {
            self.free.push(i);
        }
        Some(v)
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

impl<K: Copy + Eq + Hash, V> std::ops::Index<&K> for Table<K, V> {
    type Output = V;
    fn index(&self, k: &K) -> &V {
        self.get(k).expect("table: no entry for key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random inserts, replacements and removals against a `BTreeMap`.
    #[test]
    fn matches_btreemap() {
        let mut g = crate::test_rng::XorShift::new(0x0123_4567_89ab_cdef);
        let mut rnd = move |n: u64| g.below(n);
        let mut t: Table<u64, u64> = Table::default();
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        for step in 0..20_000u64 {
            let k = rnd(500);
            match rnd(4) {
                0 => assert_eq!(t.remove(&k), m.remove(&k)),
                1 => {
                    *t.get_or_insert_with(k, || 0) += step;
                    *m.entry(k).or_insert(0) += step;
                }
                _ => assert_eq!(t.insert(k, step), m.insert(k, step)),
            }
            assert_eq!(t.len(), m.len());
            assert_eq!(t.get(&k), m.get(&k));
            assert_eq!(t.contains_key(&k), m.contains_key(&k));
            if step % 1000 == 0 {
                let mut all: Vec<(u64, u64)> = t.iter().map(|(k, v)| (*k, *v)).collect();
                all.sort_unstable();
                assert_eq!(all, m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
                assert_eq!(t.slots.len() - t.free.len(), t.len(), "every slot is full or free");
            }
        }
        for k in 0..500 {
            assert_eq!(t.remove(&k), m.remove(&k));
        }
        assert!(t.slots.is_empty() && t.free.is_empty(), "an empty table keeps no slots");
    }

    #[test]
    fn freed_slot_is_reused_first() {
        let mut t: Table<u64, ()> = Table::default();
        for k in 0..10 {
            t.insert(k, ());
        }
        t.remove(&3);
        t.insert(100, ());
        assert_eq!(t.index[&100], t.slots.iter().position(|s| s.is_some_and(|(k, _)| k == 100)).unwrap() as u32);
        assert_eq!(t.index[&100], 3);
    }
}
