//! READ, WRITE and FLUSH (MS-SMB2 3.3.5.11, 3.3.5.12, 3.3.5.13).

use super::ctx::Ctx;
use crate::fault::Fault;
use super::reply::{empty_ok, HResult, Reply};
use opportune_wire::header::HEADER_LEN;
use crate::notify;
use opportune_types::{AccessMask, NtStatus};
use opportune_wire::file_ops::{
    decode_flush, encode_read_response_head, encode_write_response, ReadRequest, WriteRequest, WRITE_FLAG_WRITE_THROUGH,
};

/// Each credit covers 64 KiB of payload (MS-SMB2 3.3.5.2.5).
fn credits_needed(len: u64) -> u64 {
    len.div_ceil(65536).max(1)
}

fn check_charge(ctx: &Ctx<'_>, len: u64) -> Result<(), NtStatus> {
    if ctx.conn.supports_multi_credit() && u64::from(ctx.hdr.credit_charge.max(1)) < credits_needed(len) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    Ok(())
}

/// A READ or WRITE of `len` bytes: within the negotiated maximum and paid for by the
/// request's credit charge.
pub(super) fn check_size(ctx: &Ctx<'_>, len: usize) -> Result<(), NtStatus> {
    if len > max_io(ctx) as usize {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    check_charge(ctx, len as u64)
}

fn max_io(ctx: &Ctx<'_>) -> u32 {
    if ctx.conn.supports_multi_credit() { ctx.server.config.max_io_size } else { 65536 }
}

pub fn read(ctx: &mut Ctx<'_>) -> HResult {
    let req = ReadRequest::decode(ctx.msg)?;
    if req.length > max_io(ctx) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    check_charge(ctx, u64::from(req.length))?;
    // The answer must fit in what is left of this compound's frame (docs/SECURITY.md).
    if req.length as usize + HEADER_LEN + 16 > ctx.chain.response_room {
        return Err(Fault::Resource("the read does not fit in the compound's response").into());
    }
    let open = ctx.open(req.file_id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if !open.has_access(AccessMask::FILE_READ_DATA | AccessMask::FILE_EXECUTE) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if req.offset > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let handle = open.handle.clone();
    let open_id = open.file_id.volatile;
    if ctx.share()?.caching.strict_locking {
        ctx.server.locks.check_io(open_id, req.offset, u64::from(req.length), false)?;
    }
    // The response is built in place behind room for its header, in a recycled buffer:
    // no per-read allocation, page faults or copies of the data.
    let pool = &ctx.server.buffers;
    let mut body = pool.take();
    body.clear();
    body.resize(HEADER_LEN, 0);
    encode_read_response_head(&mut body, 0);
    body.resize(HEADER_LEN + 16 + req.length as usize, 0);
    let data = HEADER_LEN + 16;
    let large = req.length as usize >= crate::offload::LARGE_IO;
    let n = match crate::offload::blocking_if(large, || handle.read_at(&mut body[data..], req.offset)) {
        Ok(n) => n,
        Err(e) => {
            pool.give(body);
            return Err(e.status());
        }
    };
    if (n == 0 && req.length > 0) || (n as u64) < u64::from(req.minimum_count) {
        pool.give(body);
        return Err(NtStatus::END_OF_FILE);
    }
    body.truncate(data + n);
    body[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&(n as u32).to_le_bytes());
    ctx.share()?.metrics.read_bytes.increment(n as u64);
    advance_position(ctx, req.file_id, req.offset + n as u64);
    Ok(Reply { header_room: true, ..Reply::ok(body) })
}

pub fn write(ctx: &mut Ctx<'_>) -> HResult {
    let req = WriteRequest::decode(ctx.msg)?;
    if req.data.len() > max_io(ctx) as usize {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    check_charge(ctx, req.data.len() as u64)?;
    let open = ctx.open(req.file_id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    let append_only = !open.has_access(AccessMask::FILE_WRITE_DATA);
    if !open.has_access(AccessMask::FILE_WRITE_DATA | AccessMask::FILE_APPEND_DATA) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let handle = open.handle.clone();
    let open_id = open.file_id.volatile;
    let quota_key = open.quota;
    let write_through = req.flags & WRITE_FLAG_WRITE_THROUGH != 0 || open.mode & 0x2 != 0;
    // MS-FSA 2.1.5.3: an append-only open writes at end of file whatever offset it names.
    let offset = if append_only || req.offset == u64::MAX {
        handle.info()?.size
    } else {
        req.offset
    };
    if offset.checked_add(req.data.len() as u64).is_none_or(|end| end > i64::MAX as u64) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if ctx.share()?.caching.strict_locking {
        ctx.server.locks.check_io(open_id, offset, req.data.len() as u64, true)?;
    }
    // Growth past end of file is checked and charged before anything is written.
    let quota = match quota_key {
        Some(key) if !req.data.is_empty() => ctx.share()?.quota.get().cloned().map(|q| (q, key)),
        _ => None,
    };
    let charged = match &quota {
        Some((q, key)) => q.grow(*key, offset + req.data.len() as u64)?,
        None => None,
    };
    ctx.server.locks.written(open_id);
    ctx.server.dir_leases.wrote(open_id);
    let may_wait = write_through || req.data.len() >= crate::offload::LARGE_IO;
    let written = crate::offload::blocking_if(may_wait, || {
        let n = handle.write_at(req.data, offset)?;
        if write_through {
            handle.sync()?;
        }
        Ok::<_, opportune_fs::FsError>(n)
    });
    if let (Err(_), Some((q, key)), Some(old)) = (&written, &quota, charged) {
        q.undo_growth(*key, old, offset + req.data.len() as u64);
    }
    let n = written?;
    ctx.share()?.metrics.written_bytes.increment(n as u64);
    if ctx.server.notify.is_watched() {
        let share = ctx.share_index()?;
        let mask = notify::filter::LAST_WRITE | notify::filter::SIZE;
        ctx.server.notify.report(&ctx.server.host_notify, &ctx.server.locks, share, &handle.rel_path(), notify::action::MODIFIED, mask);
    }
    advance_position(ctx, req.file_id, offset + n as u64);
    let mut body = Vec::with_capacity(17);
    encode_write_response(&mut body, n as u32);
    Ok(Reply::ok(body))
}

/// FilePositionInformation after a read or write: the byte after the last one
/// transferred. MS-FSA 2.1.5.2/2.1.5.3 update CurrentByteOffset only for
/// synchronous opens, which SMB2 opens are not (Windows keeps reporting 0);
/// like Samba, and as smbtorture's smb2.read.position expects of non-Windows
/// servers, this server tracks it for every open.
fn advance_position(ctx: &mut Ctx<'_>, id: opportune_types::FileId, end: u64) {
    if let Ok(open) = ctx.open(id) {
        open.position = end;
    }
}

pub fn flush(ctx: &mut Ctx<'_>) -> HResult {
    let id = decode_flush(ctx.msg)?;
    let open = ctx.open(id)?;
    if !open.has_access(AccessMask::FILE_WRITE_DATA | AccessMask::FILE_APPEND_DATA) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if !open.is_dir {
        let handle = &open.handle;
        crate::offload::blocking(|| handle.sync())?;
    }
    Ok(empty_ok())
}
