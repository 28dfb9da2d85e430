//! QUERY_DIRECTORY (MS-SMB2 3.3.5.18, MS-FSA 2.1.5.6).

use super::ctx::Ctx;
use super::reply::{HResult, Reply};
use crate::meta::{ea_size, file_meta};
use crate::open::Open;
use opportune_fs::join_rel;
use crate::wildcard;
use opportune_types::NtStatus;
use opportune_wire::fscc::{is_dir_class, put_dir_entry, FileMeta};
use opportune_wire::query::{dir_flags, encode_buffer_response, QueryDirectoryRequest};

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = QueryDirectoryRequest::decode(ctx.msg)?;
    let max = ctx.server.config.max_io_size;
    if !is_dir_class(req.info_class) {
        return Err(NtStatus::INVALID_INFO_CLASS);
    }
    if req.output_buffer_length > max {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let share = ctx.share()?;
    let share_fs = share.fs.clone();
    // Access-based enumeration (SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM): the tree's token.
    let abe = share.config.security.access_based_enumeration.then(|| ctx.tree().map(|t| t.token.clone())).transpose()?;
    let server = ctx.server;
    let open = ctx.listable_dir(req.file_id)?;
    if req.flags & (dir_flags::RESTART_SCANS | dir_flags::REOPEN) != 0 {
        open.dir.position = 0;
        open.dir.entries = None;
        if req.flags & dir_flags::REOPEN != 0 {
            open.dir.pattern = None;
        }
    }
    // A listing taken by this very request is current; older ones are re-checked.
    let mut fresh = false;
    if open.dir.pattern.is_none() || open.dir.entries.is_none() {
        let pattern = if req.pattern.is_empty() { "*".to_string() } else { req.pattern.clone() };
        if pattern.contains('\\') {
            return Err(NtStatus::OBJECT_NAME_INVALID);
        }
        if open.dir.pattern.is_none() {
            open.dir.pattern = Some(pattern);
        }
        let pattern = open.dir.pattern.as_deref().unwrap_or("*");
        let mut entries = match exact(open, &share_fs, pattern) {
            Some(found) => found,
            None => list(open, &share_fs)?,
        };
        if let Some(token) = &abe {
            crate::access_check::hide_unreadable(server, &share_fs, &open.handle.rel_path(), token, &mut entries);
        }
        open.dir.entries = Some(entries);
        open.dir.position = 0;
        fresh = true;
    }
    let first_call = open.dir.position == 0;
    let pattern = open.dir.pattern.clone().unwrap_or_default();
    let single = req.flags & dir_flags::RETURN_SINGLE_ENTRY != 0;
    let limit = req.output_buffer_length as usize;
    let entries = open.dir.entries.as_deref().unwrap_or(&[]);
    let mut out = Vec::with_capacity(limit.min(65536));
    let mut last: Option<usize> = None;
    let mut pos = open.dir.position;
    let dir_rel = open.handle.rel_path();
    while pos < entries.len() {
        let (name, listed) = &entries[pos];
        if !wildcard::is_match(&pattern, name) {
            pos += 1;
            continue;
        }
        // The listing was taken when the enumeration started: an entry removed
        // since is skipped, and one still there is reported as it is now.
        let meta = if fresh { Some(*listed) } else { current(&share_fs, &dir_rel, name, listed) };
        let Some(meta) = meta else {
            pos += 1;
            continue;
        };
        let short = if name == "." || name == ".." { None } else { opportune_fs::short_name(name) };
        let before = out.len();
        let Some(start) = put_dir_entry(&mut out, req.info_class, name, short.as_deref(), &meta) else {
            return Err(NtStatus::INVALID_INFO_CLASS);
        };
        if out.len() > limit {
            out.truncate(before);
            if last.is_none() {
                return Err(NtStatus::INFO_LENGTH_MISMATCH);
            }
            break;
        }
        if let Some(prev) = last {
            let off = (start - prev) as u32;
            out[prev..prev + 4].copy_from_slice(&off.to_le_bytes());
        }
        last = Some(start);
        pos += 1;
        if single {
            break;
        }
    }
    open.dir.position = pos;
    if last.is_none() {
        return Err(if first_call { NtStatus::NO_SUCH_FILE } else { NtStatus::NO_MORE_FILES });
    }
    let mut body = Vec::with_capacity(8 + out.len());
    encode_buffer_response(&mut body, &out);
    Ok(Reply::ok(body))
}

/// The entry `name` of directory `dir_rel` as it is now; `None` once it is gone.
fn current(share: &opportune_fs::Share, dir_rel: &str, name: &str, listed: &FileMeta) -> Option<FileMeta> {
    if name == "." || name == ".." {
        return Some(*listed);
    }
    let rel = join_rel(dir_rel, name);
    let info = share.stat(&rel).ok()?;
    let eas = share.eas_at(&rel).unwrap_or_default();
    Some(FileMeta { ea_size: ea_size(&eas), ..file_meta(&info, false) })
}

/// "." and ".." first, then the directory's entries, as the enumeration sees them.
fn list(open: &Open, share: &opportune_fs::Share) -> Result<Vec<(String, FileMeta)>, NtStatus> {
    let own = open.handle.info()?;
    let rel = open.handle.rel_path();
    let parent = match rel.rfind('/') {
        Some(i) => share.stat(&rel[..i]),
        None => share.stat(""),
    }
    .unwrap_or(own);
    let mut v = vec![(".".to_string(), file_meta(&own, false)), ("..".to_string(), file_meta(&parent, false))];
    let entries = open.handle.read_dir()?;
    let dir_rel = open.handle.rel_path();
    v.extend(entries.into_iter().map(|e| {
        let rel = join_rel(&dir_rel, &e.name);
        let eas = share.eas_at(&rel).unwrap_or_default();
        let m = FileMeta { ea_size: ea_size(&eas), ..file_meta(&e.info, false) };
        (e.name, m)
    }));
    Ok(v)
}

/// A pattern without wildcards names one entry: it is looked up directly instead of
/// listing the directory (smbclient deletes and stats files this way). None when the
/// pattern has wildcards, names "." or "..", or the exact name is not listed (not on
/// disk, where a case-insensitive match then needs the listing, or an object the
/// listing leaves out, such as a FIFO).
fn exact(open: &Open, share: &opportune_fs::Share, pattern: &str) -> Option<Vec<(String, FileMeta)>> {
    if pattern.contains(['*', '?', '<', '>', '"', ':', '/']) || pattern == "." || pattern == ".." {
        return None;
    }
    let entry = open.handle.dir_entry(pattern).ok()??;
    let rel = join_rel(&open.handle.rel_path(), pattern);
    let eas = share.eas_at(&rel).unwrap_or_default();
    let meta = FileMeta { ea_size: ea_size(&eas), ..file_meta(&entry.info, false) };
    Some(vec![(entry.name, meta)])
}
