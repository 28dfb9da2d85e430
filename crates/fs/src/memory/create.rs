//! Create in the in-memory file system: the CreateDisposition rules of MS-FSA 2.1.5.1
//! with the results and errors of the POSIX backend (`Share::create` lists them), for
//! files, directories and named streams.

use std::sync::Arc;

use opportune_types::create::{CreateAction, CreateDisposition};
use opportune_types::FileAttributes;

use crate::create_types::{truncating, CreateParams, Opened};
use crate::error::FsError;
use crate::handle::Handle;
use crate::path::SmbPath;

use super::handle::MemHandle;
use super::node::{Kind, Node, Stream, CLUSTER};
use super::tree::Tree;
use super::Shared;

pub(super) fn create(fs: &Arc<Shared>, path: &SmbPath, p: &CreateParams) -> Result<Opened, FsError> {
    use CreateDisposition::*;
    if p.directory == Some(true) && path.explicit_data_stream() {
        return Err(FsError::NotADirectory);
    }
    if let Some(s) = path.stream() {
        return create_stream(fs, path, s, p);
    }
    crate::create_types::refuse_create(path, p)?;
    let mut tree = fs.tree();
    let l = tree.locate(path.components())?;
    let rel = l.rel();
    let Some(id) = l.found else {
        if matches!(p.disposition, Open | Overwrite) {
            return Err(FsError::NotFound);
        }
        let want_dir = p.directory == Some(true);
        if path.trailing_separator() && !want_dir {
            return Err(FsError::InvalidName);
        }
        let t = tree.now();
        let node = if want_dir {
            Node::new(0, Kind::Dir { entries: Default::default() }, p.attributes & FileAttributes::SETTABLE, t)
        } else {
            Node::new(0, Kind::File { data: Vec::new(), reserved: 0 }, (p.attributes & FileAttributes::SETTABLE) | FileAttributes::ARCHIVE, t)
        };
        if !want_dir {
            tree.admit(0, p.allocation_size.next_multiple_of(CLUSTER))?;
        }
        let id = tree.add(l.parent, &l.name, node)?;
        if !want_dir && p.allocation_size > 0 {
            if let Kind::File { reserved, .. } = &mut tree.node_mut(id)?.kind {
                *reserved = p.allocation_size;
            }
            tree.settle(id, 0);
        }
        touch_parent(&mut tree, l.parent, t);
        return opened(fs, &mut tree, id, rel, None, CreateAction::Created);
    };
    if p.disposition == Create {
        return Err(FsError::Exists);
    }
    let is_dir = tree.node(id)?.is_dir();
    if !is_dir && p.directory == Some(true) {
        return Err(FsError::NotADirectory);
    }
    if is_dir && (p.directory == Some(false) || path.explicit_data_stream()) {
        return Err(FsError::IsADirectory);
    }
    if !is_dir && path.trailing_separator() {
        return Err(FsError::InvalidName);
    }
    let trunc = truncating(p.disposition);
    if is_dir && trunc {
        return Err(FsError::InvalidParameter);
    }
    let action = if trunc { overwrite(&mut tree, id, p)? } else { CreateAction::Opened };
    opened(fs, &mut tree, id, rel, None, action)
}

/// A file's modification moves its directory's times, as a POSIX directory's do.
fn touch_parent(tree: &mut Tree, parent: u64, t: u64) {
    if let Ok(n) = tree.node_mut(parent) {
        n.last_write_time = t;
        n.change_time = t;
    }
}

fn opened(fs: &Arc<Shared>, tree: &mut Tree, id: u64, rel: String, stream: Option<String>, action: CreateAction) -> Result<Opened, FsError> {
    let h = MemHandle::open(fs, tree, id, rel.clone(), stream.clone())?;
    let mut info = tree.node(id)?.info();
    if let Some(s) = &stream {
        let node = tree.node(id)?;
        let size = node.stream(s).map_or(0, |i| node.streams[i].data.len() as u64);
        info.size = size;
        info.allocation_size = crate::stream::allocation(size);
        info.is_dir = false;
        info.stream = crate::stream::stream_hash(s);
    }
    Ok(Opened { handle: Handle::memory(h), action, rel_path: rel, info: Some(info), reopened: false })
}

/// Overwrite/OverwriteIf/Supersede of an existing file (MS-FSA 2.1.5.1.2.1): HIDDEN or
/// SYSTEM not asked for again is `AccessDenied`; the data and the named streams go, the
/// attributes are the new ones with ARCHIVE, the creation time stays.
fn overwrite(tree: &mut Tree, id: u64, p: &CreateParams) -> Result<CreateAction, FsError> {
    let node = tree.node(id)?;
    for bit in [FileAttributes::HIDDEN, FileAttributes::SYSTEM] {
        if node.attributes & bit != 0 && p.attributes & bit == 0 {
            return Err(FsError::AccessDenied);
        }
    }
    let old = node.charge();
    tree.admit(old, p.allocation_size.next_multiple_of(CLUSTER))?;
    let t = tree.now();
    let node = tree.node_mut(id)?;
    node.kind = Kind::File { data: Vec::new(), reserved: p.allocation_size };
    node.streams.clear();
    node.attributes = (p.attributes & FileAttributes::SETTABLE) | FileAttributes::ARCHIVE;
    node.last_write_time = t;
    node.change_time = t;
    tree.settle(id, old);
    Ok(if p.disposition == CreateDisposition::Supersede { CreateAction::Superseded } else { CreateAction::Overwritten })
}

/// A named stream (`name:stream`, MS-FSCC 2.1.5.3): the base is looked up, created as an
/// empty file if missing and the disposition creates; the disposition applies to the
/// stream.
fn create_stream(fs: &Arc<Shared>, path: &SmbPath, sname: &str, p: &CreateParams) -> Result<Opened, FsError> {
    use CreateDisposition::*;
    crate::stream::StreamName::new(sname)?;
    let base = path.base();
    if base.is_root() {
        return Err(FsError::InvalidName);
    }
    if p.directory == Some(true) {
        return Err(FsError::NotADirectory);
    }
    let mut tree = fs.tree();
    let l = tree.locate(base.components())?;
    let (id, base_created) = match l.found {
        Some(id) => (id, false),
        None if matches!(p.disposition, Open | Overwrite) => return Err(FsError::NotFound),
        None => {
            let attributes = (p.attributes & FileAttributes::SETTABLE) | FileAttributes::ARCHIVE;
            let node = Node::new(0, Kind::File { data: Vec::new(), reserved: 0 }, attributes, tree.now());
            (tree.add(l.parent, &l.name, node)?, true)
        }
    };
    let old = tree.node(id)?.charge();
    let node = tree.node_mut(id)?;
    let (name, mut action) = match (node.stream(sname), p.disposition) {
        (None, Open | Overwrite) => return Err(FsError::NotFound),
        (Some(_), Create) => return Err(FsError::Exists),
        (Some(i), Open | OpenIf) => (node.streams[i].name.clone(), CreateAction::Opened),
        (Some(i), _) => {
            node.streams[i].data.clear();
            let action = if p.disposition == Supersede { CreateAction::Superseded } else { CreateAction::Overwritten };
            (node.streams[i].name.clone(), action)
        }
        (None, _) => {
            node.streams.push(Stream { name: sname.to_string(), data: Vec::new() });
            (sname.to_string(), CreateAction::Created)
        }
    };
    tree.settle(id, old);
    if base_created {
        action = CreateAction::Created;
    }
    let rel = format!("{}:{name}", l.rel());
    opened(fs, &mut tree, id, rel, Some(name), action)
}
