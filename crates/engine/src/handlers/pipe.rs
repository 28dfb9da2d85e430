//! Requests on IPC$ (MS-SMB2 3.3.5.9 - 3.3.5.15 for named pipes): CREATE of `srvsvc`,
//! `wkssvc` or `lsarpc` opens a pipe (`opportune_rpc::Pipe`), WRITE feeds it, READ takes
//! its answers (STATUS_BUFFER_OVERFLOW when a message continues, as for a message-mode
//! pipe), IOCTL FSCTL_PIPE_TRANSCEIVE does both, CLOSE ends it. Other names are
//! STATUS_OBJECT_NAME_NOT_FOUND, as before.

use super::ctx::Ctx;
use crate::fault::Fault;
use super::reply::{empty_ok, HResult, Reply};
use crate::pipes::{PipeOpen, MAX_PIPES_PER_CONNECTION, MAX_PIPE_MEMORY_PER_CONNECTION};
use crate::server_view::ServerView;
use opportune_rpc::{Interface, Pipe, ReadOutcome};
use opportune_types::{FileAttributes, FileId, NtStatus};
use opportune_wire::create::{CreateRequest, CreateResponse};
use opportune_wire::cursor::Put;
use opportune_wire::file_ops::{
    decode_flush, encode_read_response_head, encode_write_response, CloseRequest, CloseResponse, ReadRequest, WriteRequest,
};
use opportune_wire::fscc::class;
use opportune_wire::header::{Command, HEADER_LEN};
use opportune_wire::ioctl::{encode_ioctl_response, fsctl, IoctlRequest};
use opportune_wire::query::{encode_buffer_response, info_type, QueryInfoRequest};

/// What the pipe reports as its size (AllocationSize), as Windows does.
const PIPE_ALLOCATION: u64 = 4096;

/// The handler for `cmd` on an IPC$ tree, or None where the ordinary one applies
/// (TREE_DISCONNECT, IOCTLs other than a transceive, OPLOCK_BREAK).
pub fn route(ctx: &mut Ctx<'_>, cmd: Command) -> Option<HResult> {
    use Command::*;
    Some(match cmd {
        Create => create(ctx),
        Read => read(ctx),
        Write => write(ctx),
        Close => close(ctx),
        Flush => flush(ctx),
        QueryInfo => query_info(ctx),
        Ioctl => {
            let req = match IoctlRequest::decode(ctx.msg) {
                Ok(r) => r,
                Err(_) => return Some(Err(NtStatus::INVALID_PARAMETER)),
            };
            if req.ctl_code != fsctl::PIPE_TRANSCEIVE {
                return None;
            }
            transceive(ctx, &req)
        }
        // Pipes have no directory, locks, change notifications or settable information.
        SetInfo | Lock | QueryDirectory | ChangeNotify => Err(NtStatus::NOT_SUPPORTED),
        _ => return None,
    })
}

/// CREATE on IPC$: the name is a pipe name (MS-SMB2 3.3.5.9), with or without a
/// leading backslash, compared ignoring case.
fn create(ctx: &mut Ctx<'_>) -> HResult {
    let req = CreateRequest::decode(ctx.msg)?;
    if req.desired_access == 0 || req.impersonation_level > opportune_types::create::IMPERSONATION_MAX {
        return Err(if req.desired_access == 0 { NtStatus::ACCESS_DENIED } else { NtStatus::BAD_IMPERSONATION_LEVEL });
    }
    let iface = Interface::for_pipe(&req.name).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
    if ctx.conn.pipes.open.len() >= MAX_PIPES_PER_CONNECTION {
        tracing::info!(conn = ctx.conn.id, peer = %ctx.conn.peer, "pipe open refused: too many pipes");
        return Err(Fault::Resource("too many pipes").into());
    }
    let id = ctx.server.next_id();
    let file_id = FileId { persistent: id, volatile: id };
    let (session_id, tree_id) = (ctx.hdr.session_id, ctx.hdr.tree_id);
    let pipe = Pipe::new(iface, id ^ u64::from_le_bytes(ctx.server.server_guid[..8].try_into().unwrap_or([0; 8])));
    ctx.conn.pipes.open.insert(id, PipeOpen { file_id, session_id, tree_id, pipe });
    ctx.chain.file_id = Some(file_id);
    tracing::debug!(conn = ctx.conn.id, pipe = iface.pipe_name(), "pipe opened");
    let resp = CreateResponse {
        oplock_level: 0,
        flags: 0,
        create_action: opportune_types::create::CreateAction::Opened as u32,
        creation_time: 0,
        last_access_time: 0,
        last_write_time: 0,
        change_time: 0,
        allocation_size: PIPE_ALLOCATION,
        end_of_file: 0,
        file_attributes: FileAttributes::NORMAL,
        file_id,
        contexts: Vec::new(),
    };
    let mut body = Vec::with_capacity(96);
    resp.encode(&mut body);
    Ok(Reply::ok(body))
}

/// The pipe a request names: of this session and tree (MS-SMB2 3.3.5.2.7.2), else
/// STATUS_FILE_CLOSED.
fn pipe_of<'c>(ctx: &'c mut Ctx<'_>, id: FileId) -> Result<(&'c mut PipeOpen, ServerView<'c>), NtStatus> {
    let id = ctx.resolve_file_id(id)?;
    ctx.chain.file_id = Some(id);
    let (sid, tid) = (ctx.hdr.session_id, ctx.hdr.tree_id);
    let identity = ctx.conn.sessions.get(&sid).ok_or(NtStatus::USER_SESSION_DELETED)?.identity;
    let view = ServerView { server: ctx.server, identity };
    match ctx.conn.pipes.open.get_mut(&id.volatile) {
        Some(p) if p.file_id == id && p.session_id == sid && p.tree_id == tid => Ok((p, view)),
        _ => Err(NtStatus::FILE_CLOSED),
    }
}

/// Room for more input: the connection's pipes together stay under their budget.
fn admit_input(ctx: &Ctx<'_>, len: usize) -> Result<(), NtStatus> {
    if ctx.conn.pipes.memory() + len > MAX_PIPE_MEMORY_PER_CONNECTION {
        return Err(Fault::Resource("pipe input over the connection's budget").into());
    }
    Ok(())
}

fn write(ctx: &mut Ctx<'_>) -> HResult {
    let req = WriteRequest::decode(ctx.msg)?;
    super::io::check_size(ctx, req.data.len())?;
    admit_input(ctx, req.data.len())?;
    let (open, view) = pipe_of(ctx, req.file_id)?;
    open.pipe.write(req.data, &view)?;
    let mut body = Vec::with_capacity(17);
    encode_write_response(&mut body, req.data.len() as u32);
    Ok(Reply::ok(body))
}

/// READ: the next answer, or as much of it as fits (STATUS_BUFFER_OVERFLOW: the message
/// continues). Nothing to read is STATUS_PIPE_EMPTY: every call is answered when it is
/// written, so a client never has to wait for one.
fn read(ctx: &mut Ctx<'_>) -> HResult {
    let req = ReadRequest::decode(ctx.msg)?;
    super::io::check_size(ctx, req.length as usize)?;
    if req.length as usize + HEADER_LEN + 16 > ctx.chain.response_room {
        return Err(Fault::Resource("the read does not fit in the compound's response").into());
    }
    let (open, _) = pipe_of(ctx, req.file_id)?;
    let out = open.pipe.read(req.length as usize).ok_or(NtStatus::PIPE_EMPTY)?;
    let mut body = Vec::with_capacity(16 + out.data.len());
    encode_read_response_head(&mut body, out.data.len() as u32);
    body.extend_from_slice(&out.data);
    Ok(Reply::with_status(overflow(&out), body))
}

fn overflow(out: &ReadOutcome) -> NtStatus {
    if out.more { NtStatus::BUFFER_OVERFLOW } else { NtStatus::SUCCESS }
}

/// FSCTL_PIPE_TRANSCEIVE (MS-SMB2 3.3.5.15, MS-FSCC 2.3): the input is written and the
/// answer returned in the same response, up to MaxOutputResponse (the rest is read
/// with READ after STATUS_BUFFER_OVERFLOW).
fn transceive(ctx: &mut Ctx<'_>, req: &IoctlRequest<'_>) -> HResult {
    if req.max_output_response > ctx.server.config.max_io_size || req.input.len() > ctx.server.config.max_io_size as usize {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if req.max_output_response as usize + HEADER_LEN + 48 > ctx.chain.response_room {
        return Err(Fault::Resource("the pipe's output does not fit in the compound's response").into());
    }
    admit_input(ctx, req.input.len())?;
    let ctl_code = req.ctl_code;
    let (open, view) = pipe_of(ctx, req.file_id)?;
    let file_id = open.file_id;
    let out = open.pipe.transceive(req.input, req.max_output_response as usize, &view)?;
    let out = out.unwrap_or(ReadOutcome { data: Vec::new(), more: false });
    let mut body = Vec::with_capacity(48 + out.data.len());
    encode_ioctl_response(&mut body, ctl_code, file_id, &out.data);
    Ok(Reply::with_status(overflow(&out), body))
}

fn close(ctx: &mut Ctx<'_>) -> HResult {
    let req = CloseRequest::decode(ctx.msg)?;
    let id = pipe_of(ctx, req.file_id)?.0.file_id;
    ctx.conn.pipes.open.remove(&id.volatile);
    let mut body = Vec::with_capacity(60);
    CloseResponse::default().encode(&mut body);
    Ok(Reply::ok(body))
}

/// FLUSH of a pipe: every answer is queued when its call is written, so there is nothing
/// to wait for.
fn flush(ctx: &mut Ctx<'_>) -> HResult {
    let id = decode_flush(ctx.msg)?;
    pipe_of(ctx, id)?;
    Ok(empty_ok())
}

/// QUERY_INFO on a pipe (MS-FSCC 2.4): basic and standard information as Windows
/// gives them for a pipe (no times, FILE_ATTRIBUTE_NORMAL, DeletePending set: a pipe
/// goes with its last handle), FilePipeInformation and FilePipeLocalInformation.
fn query_info(ctx: &mut Ctx<'_>) -> HResult {
    let req = QueryInfoRequest::decode(ctx.msg)?;
    let (open, _) = pipe_of(ctx, req.file_id)?;
    if req.info_type != info_type::FILE {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    let mut d = Vec::with_capacity(64);
    match req.info_class {
        class::BASIC => {
            // FILE_BASIC_INFORMATION (2.4.7): four times, attributes, reserved.
            d.extend_from_slice(&[0; 32]);
            d.put_u32(FileAttributes::NORMAL);
            d.put_u32(0);
        }
        class::STANDARD => {
            // FILE_STANDARD_INFORMATION (2.4.41).
            d.put_u64(PIPE_ALLOCATION);
            d.put_u64(0);
            d.put_u32(1);
            d.put_u8(1);
            d.put_u8(0);
            d.put_u16(0);
        }
        class::PIPE => {
            // FILE_PIPE_INFORMATION (2.4.32): message read mode, queued completion.
            d.put_u32(1);
            d.put_u32(0);
        }
        PIPE_LOCAL => {
            // FILE_PIPE_LOCAL_INFORMATION (2.4.33): a message-type, full-duplex pipe,
            // unlimited instances, the answers waiting, connected, the client end.
            let queued = u32::try_from(open.pipe.unread()).unwrap_or(u32::MAX);
            let quota = opportune_rpc::pipe::MAX_PENDING_OUTPUT as u32;
            for v in [1u32, 2, u32::MAX, 1, quota, queued, quota, quota, 3, 0] {
                d.put_u32(v);
            }
        }
        _ => return Err(NtStatus::NOT_SUPPORTED),
    }
    if (req.output_buffer_length as usize) < d.len() {
        return Err(NtStatus::INFO_LENGTH_MISMATCH);
    }
    let mut body = Vec::with_capacity(8 + d.len());
    encode_buffer_response(&mut body, &d);
    Ok(Reply::ok(body))
}

/// FilePipeLocalInformation.
const PIPE_LOCAL: u8 = 24;
