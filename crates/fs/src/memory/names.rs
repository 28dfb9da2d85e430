//! The names of an open object in the in-memory file system: where it is now, a new
//! hard link (MS-FSA 2.1.5.15.6), the rename of a named stream (2.1.5.14.11).

use opportune_types::FileAttributes;

use crate::error::FsError;
use crate::info::FileInfo;
use crate::link::{Linked, MAX_LINKS};
use crate::path::SmbPath;
use crate::rel_path::split_rel_stream;

use super::handle::MemHandle;
use super::node::Stream;

impl MemHandle {
    /// As `Handle::current_rel_path`: the recorded path while it names this object,
    /// else a path that does (recorded), `None` once it has no name.
    pub(crate) fn current_rel_path(&self) -> Result<Option<String>, FsError> {
        let rel = self.rel_path();
        let (base, _) = split_rel_stream(&rel);
        let tree = self.fs.tree();
        if tree.resolve(base).ok() == Some(self.id) {
            return Ok(Some(rel));
        }
        if tree.node(self.id)?.nlink == 0 {
            return Ok(None);
        }
        let Some(base) = tree.path_of(self.id) else { return Ok(None) };
        drop(tree);
        let now = match self.stream() {
            Some(s) => format!("{base}:{s}"),
            None => base,
        };
        self.set_rel_path(now.clone());
        Ok(Some(now))
    }

    /// As `Handle::link` (the POSIX backend's rules).
    pub(crate) fn link(&self, to: &SmbPath, replace: bool, in_use: &dyn Fn(&FileInfo) -> bool) -> Result<Linked, FsError> {
        let new_name = crate::fsa_rules::link_name(self.stream().is_some(), self.is_dir(), to)?;
        let mut tree = self.fs.tree();
        let nlink = tree.node(self.id)?.nlink;
        if nlink == 0 {
            return Err(FsError::AccessDenied);
        }
        if nlink >= MAX_LINKS {
            return Err(FsError::TooManyLinks);
        }
        let l = tree.locate(to.components())?;
        let new_rel = crate::rel_path::join(&l.parent_rel, new_name);
        let replaced = match l.found {
            None => false,
            Some(old) if old == self.id => {
                return if replace { Ok(Linked { rel: l.rel(), replaced: false }) } else { Err(FsError::Exists) };
            }
            Some(_) if !replace => return Err(FsError::Exists),
            Some(old) => {
                let info = tree.node(old)?.info();
                if info.is_dir || info.attributes & FileAttributes::READONLY != 0 || in_use(&info) {
                    return Err(FsError::AccessDenied);
                }
                tree.unlink(l.parent, &l.name)?;
                true
            }
        };
        tree.node_mut(l.parent)?.entries_mut().ok_or(FsError::PathNotFound)?.insert(new_name.to_string(), self.id);
        let t = tree.now();
        let node = tree.node_mut(self.id)?;
        node.nlink += 1;
        node.change_time = t;
        Ok(Linked { rel: new_rel, replaced })
    }

    /// As `Handle::rename_stream` (the POSIX backend's rules).
    pub(crate) fn rename_stream(&self, target: Option<&str>, replace: bool) -> Result<String, FsError> {
        let Some(src) = self.stream() else { return Err(FsError::InvalidParameter) };
        let rel = self.rel_path();
        let base_rel = split_rel_stream(&rel).0.to_string();
        let mut tree = self.fs.tree();
        let old = tree.node(self.id)?.charge();
        let node = tree.node_mut(self.id)?;
        let si = node.stream(&src).ok_or(FsError::NotFound)?;
        match target {
            None => {
                if self.base_is_dir {
                    return Err(FsError::InvalidParameter);
                }
                if !replace {
                    return Err(FsError::Exists);
                }
                if node.size() != 0 {
                    return Err(FsError::InvalidParameter);
                }
                let moved = node.streams.remove(si);
                if let super::node::Kind::File { data, .. } = &mut node.kind {
                    *data = moved.data;
                }
                tree.settle(self.id, old);
                drop(tree);
                self.set_stream(None);
                self.set_rel_path(base_rel.clone());
                Ok(base_rel)
            }
            Some(name) => {
                crate::path::check_stream_name(name)?;
                let same = crate::path::eq_ignore_case(&node.streams[si].name, name);
                if !same && let Some(di) = node.stream(name) {
                    if !replace {
                        return Err(FsError::Exists);
                    }
                    if !node.streams[di].data.is_empty() {
                        return Err(FsError::InvalidParameter);
                    }
                    node.streams.remove(di);
                }
                let si = node.stream(&src).ok_or(FsError::NotFound)?;
                let data = std::mem::take(&mut node.streams[si].data);
                node.streams.remove(si);
                node.streams.push(Stream { name: name.to_string(), data });
                tree.settle(self.id, old);
                drop(tree);
                let new_rel = format!("{base_rel}:{name}");
                self.set_stream(Some(name.to_string()));
                self.set_rel_path(new_rel.clone());
                Ok(new_rel)
            }
        }
    }
}
