//! Operations on names of the in-memory file system: stat, rename with the replace
//! rules of MS-FSA 2.1.5.14.11 (as the POSIX backend applies them, `Share::rename`),
//! remove (a non-empty directory is `NotEmpty`, MS-FSA 2.1.5.4), and the removal of an
//! open object under its current name.

use crate::error::FsError;
use crate::info::FileInfo;
use crate::path::SmbPath;
use crate::rel_path::{join, split_last, split_rel, split_rel_stream};
use crate::rename::Replaced;

use super::node::DEVICE;
use super::tree::Tree;

/// As `Share::stat`.
pub(super) fn stat(tree: &Tree, rel: &str) -> Result<FileInfo, FsError> {
    let (base, stream) = split_rel_stream(rel);
    let node = tree.node(tree.resolve(base)?)?;
    let mut info = node.info();
    if let Some(s) = stream {
        let st = &node.streams[node.stream(s).ok_or(FsError::NotFound)?];
        info.size = st.data.len() as u64;
        info.allocation_size = crate::stream::allocation(info.size);
        info.is_dir = false;
        info.stream = crate::stream::stream_hash(&st.name);
    }
    Ok(info)
}

/// As `Share::rename_replacing`.
pub(super) fn rename(tree: &mut Tree, from: &str, to: &SmbPath, replace: bool) -> Result<(String, Option<Replaced>), FsError> {
    if to.explicit_data_stream() || split_rel_stream(from).1.is_some() {
        return Err(FsError::InvalidParameter);
    }
    let Some(new_name) = to.file_name() else { return Err(FsError::AccessDenied) };
    if split_rel(from)?.is_empty() {
        return Err(FsError::AccessDenied);
    }
    let (src_parent_rel, src_name) = split_last(from);
    let src_parent = tree.resolve_dir(src_parent_rel)?;
    let src = *tree.node(src_parent)?.entries().and_then(|e| e.get(src_name)).ok_or(FsError::NotFound)?;
    let l = tree.locate(to.components())?;
    let new_rel = join(&l.parent_rel, new_name);
    let src_is_dir = tree.node(src)?.is_dir();
    if src_is_dir && tree.is_within(l.parent, src) {
        return Err(FsError::InvalidParameter); // a directory below itself
    }
    let mut replaced = None;
    match l.found {
        Some(dst) if dst == src && l.parent == src_parent && l.name == src_name => {
            // The target is the source: nothing to do, or a change of case.
            if new_name != src_name {
                move_entry(tree, src_parent, src_name, l.parent, new_name)?;
            }
            return Ok((new_rel, None));
        }
        Some(_) if !replace => return Err(FsError::Exists),
        Some(dst) => {
            let d = tree.node(dst)?;
            if d.is_dir() {
                return Err(FsError::AccessDenied);
            }
            replaced = Some((DEVICE, dst, d.nlink));
            tree.unlink(l.parent, &l.name)?;
        }
        None => {}
    }
    move_entry(tree, src_parent, src_name, l.parent, new_name)?;
    Ok((new_rel, replaced))
}

fn move_entry(tree: &mut Tree, from_dir: u64, from: &str, to_dir: u64, to: &str) -> Result<(), FsError> {
    let id = tree.node_mut(from_dir)?.entries_mut().ok_or(FsError::PathNotFound)?.remove(from).ok_or(FsError::NotFound)?;
    tree.node_mut(to_dir)?.entries_mut().ok_or(FsError::PathNotFound)?.insert(to.to_string(), id);
    let t = tree.now();
    for d in [from_dir, to_dir] {
        if let Ok(n) = tree.node_mut(d) {
            n.last_write_time = t;
            n.change_time = t;
        }
    }
    if let Ok(n) = tree.node_mut(id) {
        n.change_time = t;
    }
    Ok(())
}

/// As `Share::remove`.
pub(super) fn remove(tree: &mut Tree, rel: &str, is_dir: bool) -> Result<(), FsError> {
    if let (base, Some(name)) = split_rel_stream(rel) {
        if split_rel(base)?.is_empty() {
            return Err(FsError::InvalidName);
        }
        crate::stream::StreamName::new(name)?;
        let id = tree.resolve(base)?;
        let old = tree.node(id)?.charge();
        let node = tree.node_mut(id)?;
        let i = node.stream(name).ok_or(FsError::NotFound)?;
        node.streams.remove(i);
        tree.settle(id, old);
        return Ok(());
    }
    if split_rel(rel)?.is_empty() {
        return Err(FsError::AccessDenied);
    }
    let (parent_rel, name) = split_last(rel);
    let parent = tree.resolve_dir(parent_rel)?;
    let id = *tree.node(parent)?.entries().and_then(|e| e.get(name)).ok_or(FsError::NotFound)?;
    let node = tree.node(id)?;
    match (node.entries(), is_dir) {
        (Some(e), true) if !e.is_empty() => return Err(FsError::NotEmpty),
        (Some(_), false) => return Err(FsError::IsADirectory),
        (None, true) => return Err(FsError::NotADirectory),
        _ => {}
    }
    tree.unlink(parent, name)?;
    let t = tree.now();
    if let Ok(n) = tree.node_mut(parent) {
        n.last_write_time = t;
        n.change_time = t;
    }
    Ok(())
}

/// As `Share::is_dir_empty`.
pub(super) fn is_dir_empty(tree: &Tree, rel: &str) -> Result<bool, FsError> {
    let id = tree.resolve(rel)?;
    let entries = tree.node(id)?.entries().ok_or(FsError::NotADirectory)?;
    Ok(entries.is_empty())
}

/// As `Share::subdirectories`.
pub(super) fn subdirectories(tree: &Tree, rel: &str, max: usize) -> Result<Vec<String>, FsError> {
    let id = tree.resolve_dir(rel)?;
    let entries = tree.node(id)?.entries().ok_or(FsError::NotADirectory)?;
    Ok(entries
        .iter()
        .filter(|(_, c)| tree.nodes.get(c).is_some_and(|n| n.is_dir()))
        .take(max)
        .map(|(n, _)| join(rel, n))
        .collect())
}
