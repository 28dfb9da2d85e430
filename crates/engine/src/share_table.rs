//! The shares the server serves, as a table that a reload can change while connections
//! use it. A share keeps its slot (its index, which trees, opens and the lock adapter
//! name it by) for as long as it exists; a removed share leaves an empty slot, so an old
//! index never names a new share; new shares are appended.

use crate::share_state::ShareState;
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub struct ShareTable {
    slots: RwLock<Vec<Option<Arc<ShareState>>>>,
}

impl ShareTable {
    pub fn new(shares: Vec<ShareState>) -> ShareTable {
        ShareTable { slots: RwLock::new(shares.into_iter().map(|s| Some(Arc::new(s))).collect()) }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Option<Arc<ShareState>>>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Option<Arc<ShareState>>>> {
        self.slots.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The share in slot `idx`, unless it was removed.
    pub fn get(&self, idx: usize) -> Option<Arc<ShareState>> {
        self.read().get(idx).cloned().flatten()
    }

    /// The live share named `name` (case-insensitively) and its slot.
    pub fn find(&self, name: &str) -> Option<(usize, Arc<ShareState>)> {
        self.read().iter().enumerate().find_map(|(i, s)| s.as_ref().filter(|s| s.name.eq_ignore_ascii_case(name)).map(|s| (i, s.clone())))
    }

    /// Every live share with its slot, in slot order.
    pub fn live(&self) -> Vec<(usize, Arc<ShareState>)> {
        self.read().iter().enumerate().filter_map(|(i, s)| s.clone().map(|s| (i, s))).collect()
    }

    /// How many shares are live.
    pub fn len(&self) -> usize {
        self.read().iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of every slot ever used (a removed share keeps its name here, for records
    /// of opens made while it existed).
    pub fn names(&self) -> Vec<Option<String>> {
        self.read().iter().map(|s| s.as_ref().map(|s| s.name.clone())).collect()
    }

    /// Puts `share` in slot `idx` (a share whose settings changed).
    pub fn replace(&self, idx: usize, share: ShareState) {
        if let Some(slot) = self.write().get_mut(idx) {
            *slot = Some(Arc::new(share));
        }
    }

    /// Empties slot `idx`; its trees answer STATUS_NETWORK_NAME_DELETED from now on.
    pub fn remove(&self, idx: usize) -> Option<Arc<ShareState>> {
        self.write().get_mut(idx).and_then(Option::take)
    }

    /// Appends a new share; returns its slot.
    pub fn add(&self, share: ShareState) -> usize {
        let mut w = self.write();
        w.push(Some(Arc::new(share)));
        w.len() - 1
    }
}
