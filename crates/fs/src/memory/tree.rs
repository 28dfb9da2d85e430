//! The tree of the in-memory file system: its nodes by id, name lookup (exact, then
//! ignoring case on a case-insensitive share, MS-FSA 2.1.5.1 IsCaseInsensitive), and the
//! byte budget every growth is checked against.

use std::collections::HashMap;

use crate::error::FsError;
use crate::path::eq_ignore_case;
use crate::rel_path::{join, split_rel};

use super::node::{Kind, Node};

/// The id (inode number) of the share root.
pub(super) const ROOT: u64 = 2;

pub(super) struct Tree {
    pub nodes: HashMap<u64, Node>,
    next_id: u64,
    /// Bytes charged (`Node::charge` of every object, deleted ones still open included).
    pub used: u64,
    pub budget: u64,
    pub case_sensitive: bool,
    /// Where the times come from (the system's wall clock unless set).
    pub clock: Option<super::WallClock>,
}

/// Where a client path leads: its parent directory and the name in it.
pub(super) struct Located {
    pub parent: u64,
    pub parent_rel: String,
    /// As stored if found, else as the client spelled it.
    pub name: String,
    pub found: Option<u64>,
}

impl Located {
    pub(super) fn rel(&self) -> String {
        join(&self.parent_rel, &self.name)
    }
}

impl Tree {
    pub(super) fn new(case_sensitive: bool, budget: u64, now: u64) -> Tree {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::new(ROOT, Kind::Dir { entries: Default::default() }, 0, now));
        Tree { nodes, next_id: ROOT + 1, used: 0, budget, case_sensitive, clock: None }
    }

    /// The time now as a FILETIME.
    pub(super) fn now(&self) -> u64 {
        let wall = self.clock.as_ref().map_or_else(std::time::SystemTime::now, |c| c());
        opportune_types::time::filetime_from_system(wall)
    }

    pub(super) fn node(&self, id: u64) -> Result<&Node, FsError> {
        self.nodes.get(&id).ok_or(FsError::NotFound)
    }

    pub(super) fn node_mut(&mut self, id: u64) -> Result<&mut Node, FsError> {
        self.nodes.get_mut(&id).ok_or(FsError::NotFound)
    }

    /// `DiskFull` unless the budget holds a change of a charge from `old` to `new`.
    pub(super) fn admit(&self, old: u64, new: u64) -> Result<(), FsError> {
        if new > old && self.used.saturating_add(new - old) > self.budget {
            return Err(FsError::DiskFull);
        }
        Ok(())
    }

    /// Records that `id`'s charge went from `old` to what it is now.
    pub(super) fn settle(&mut self, id: u64, old: u64) {
        let new = self.nodes.get(&id).map_or(0, Node::charge);
        self.used = self.used.saturating_sub(old).saturating_add(new);
    }

    /// The entry `name` of directory `dir`: (stored name, id); the exact name first,
    /// then one equal ignoring case on a case-insensitive share.
    pub(super) fn find(&self, dir: u64, name: &str) -> Option<(String, u64)> {
        let entries = self.nodes.get(&dir)?.entries()?;
        if let Some(&id) = entries.get(name) {
            return Some((name.to_string(), id));
        }
        if self.case_sensitive {
            return None;
        }
        entries.iter().find(|(n, _)| eq_ignore_case(n, name)).map(|(n, &id)| (n.clone(), id))
    }

    /// Walks client components: every one but the last must be a directory
    /// (`PathNotFound` otherwise).
    pub(super) fn locate(&self, comps: &[String]) -> Result<Located, FsError> {
        let Some((last, dirs)) = comps.split_last() else {
            return Ok(Located { parent: ROOT, parent_rel: String::new(), name: String::new(), found: Some(ROOT) });
        };
        let mut at = ROOT;
        let mut rel = String::new();
        for c in dirs {
            match self.find(at, c) {
                Some((n, id)) if self.node(id)?.is_dir() => {
                    rel = join(&rel, &n);
                    at = id;
                }
                _ => return Err(FsError::PathNotFound),
            }
        }
        Ok(match self.find(at, last) {
            Some((n, id)) => Located { parent: at, parent_rel: rel, name: n, found: Some(id) },
            None => Located { parent: at, parent_rel: rel, name: last.clone(), found: None },
        })
    }

    /// The object at an on-disk relative path (exact names, as the POSIX backend opens
    /// them): a missing last component is `NotFound`, a missing or non-directory
    /// intermediate one `PathNotFound`.
    pub(super) fn resolve(&self, rel: &str) -> Result<u64, FsError> {
        let parts = split_rel(rel)?;
        let mut at = ROOT;
        for (i, p) in parts.iter().enumerate() {
            let entries = self.node(at)?.entries().ok_or(FsError::PathNotFound)?;
            match entries.get(*p) {
                Some(&id) => at = id,
                None if i + 1 == parts.len() => return Err(FsError::NotFound),
                None => return Err(FsError::PathNotFound),
            }
        }
        Ok(at)
    }

    /// The directory at `rel` (`PathNotFound` if it is missing or a file), as the POSIX
    /// backend opens the parent of a name.
    pub(super) fn resolve_dir(&self, rel: &str) -> Result<u64, FsError> {
        match self.resolve(rel) {
            Ok(id) if self.node(id)?.is_dir() => Ok(id),
            Ok(_) => Err(FsError::NotADirectory),
            Err(FsError::NotFound) => Err(FsError::PathNotFound),
            Err(e) => Err(e),
        }
    }

    /// A new object `node` under `name` in directory `parent`; its id.
    pub(super) fn add(&mut self, parent: u64, name: &str, mut node: Node) -> Result<u64, FsError> {
        let id = self.next_id;
        self.next_id += 1;
        node.id = id;
        let entries = self.node_mut(parent)?.entries_mut().ok_or(FsError::PathNotFound)?;
        if entries.contains_key(name) {
            return Err(FsError::Exists);
        }
        entries.insert(name.to_string(), id);
        self.nodes.insert(id, node);
        self.settle(id, 0);
        Ok(id)
    }

    /// Takes the entry `name` out of directory `parent`; the object loses a name and
    /// goes once it has neither names nor opens.
    pub(super) fn unlink(&mut self, parent: u64, name: &str) -> Result<u64, FsError> {
        let entries = self.node_mut(parent)?.entries_mut().ok_or(FsError::PathNotFound)?;
        let id = entries.remove(name).ok_or(FsError::NotFound)?;
        let n = self.node_mut(id)?;
        n.nlink = n.nlink.saturating_sub(1);
        self.reap(id);
        Ok(id)
    }

    /// Frees `id` if nothing names it and no handle has it open.
    pub(super) fn reap(&mut self, id: u64) {
        if self.nodes.get(&id).is_some_and(|n| n.nlink == 0 && n.opens == 0) {
            let old = self.nodes.get(&id).map_or(0, Node::charge);
            self.nodes.remove(&id);
            self.used = self.used.saturating_sub(old);
        }
    }

    /// A path that names `id` now (the first in name order), if any.
    pub(super) fn path_of(&self, id: u64) -> Option<String> {
        if id == ROOT {
            return Some(String::new());
        }
        let mut todo = vec![(ROOT, String::new())];
        while let Some((dir, rel)) = todo.pop() {
            for (name, &child) in self.nodes.get(&dir)?.entries()? {
                let child_rel = join(&rel, name);
                if child == id {
                    return Some(child_rel);
                }
                if self.nodes.get(&child).is_some_and(Node::is_dir) {
                    todo.push((child, child_rel));
                }
            }
        }
        None
    }

    /// Whether directory `dir` is `id` or below it.
    pub(super) fn is_within(&self, dir: u64, id: u64) -> bool {
        let Some(rel) = self.path_of(dir) else { return false };
        let Some(top) = self.path_of(id) else { return false };
        rel == top || rel.starts_with(&format!("{top}/")) || top.is_empty()
    }
}
