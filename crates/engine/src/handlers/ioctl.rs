//! IOCTL (MS-SMB2 3.3.5.15). Codes the server does not implement get
//! STATUS_NOT_SUPPORTED (or INVALID_DEVICE_REQUEST for non-FSCTL), never a dropped connection.

use super::ctx::Ctx;
use crate::fault::Fault;
use super::reply::{HResult, Reply};
use opportune_types::{FileId, NtStatus};
use opportune_wire::cursor::Put;
use opportune_wire::ioctl::{encode_ioctl_response, fsctl, IoctlRequest, FLAG_IS_FSCTL};

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = IoctlRequest::decode(ctx.msg)?;
    if req.flags & FLAG_IS_FSCTL == 0 {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    if req.max_output_response > ctx.server.config.max_io_size || req.input.len() > ctx.server.config.max_io_size as usize {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let output = match req.ctl_code {
        fsctl::VALIDATE_NEGOTIATE_INFO => {
            let out = super::negotiate::validate_negotiate(ctx.conn, ctx.server, req.input);
            match out {
                Ok(o) => o,
                Err(NtStatus::ACCESS_DENIED) | Err(NtStatus::FILE_CLOSED) => {
                    // MS-SMB2 3.3.5.15.12: a mismatch (or 3.1.1) terminates the connection.
                    ctx.conn.closing = true;
                    return Ok(Reply::fault(Fault::ProtocolViolation("VALIDATE_NEGOTIATE_INFO does not match the negotiation")));
                }
                Err(e) => return Err(e),
            }
        }
        fsctl::SRV_REQUEST_RESUME_KEY => {
            let open = ctx.open(req.file_id)?;
            let mut o = Vec::with_capacity(32);
            o.put_u64(open.file_id.persistent);
            o.put_u64(open.file_id.volatile);
            o.extend_from_slice(&[0u8; 8]);
            o.put_u32(0);
            o.put_u32(0);
            o
        }
        fsctl::LMR_REQUEST_RESILIENCY => request_resiliency(ctx, req.file_id, req.input)?,
        fsctl::DFS_GET_REFERRALS => return Err(NtStatus::NOT_FOUND),
        fsctl::PIPE_TRANSCEIVE => return Err(NtStatus::NOT_SUPPORTED),
        fsctl::CREATE_OR_GET_OBJECT_ID => object_id(ctx.open(req.file_id)?)?,
        fsctl::GET_REPARSE_POINT | fsctl::SET_SPARSE
        | fsctl::QUERY_ALLOCATED_RANGES | fsctl::SET_ZERO_DATA => {
            ctx.open(req.file_id)?;
            if req.ctl_code == fsctl::GET_REPARSE_POINT {
                return Err(NtStatus::NOT_A_REPARSE_POINT);
            }
            return Err(NtStatus::NOT_SUPPORTED);
        }
        _ => return Err(NtStatus::NOT_SUPPORTED),
    };
    if output.len() > req.max_output_response as usize {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    let file_id = if req.file_id == FileId::COMPOUNDED { ctx.chain.file_id.unwrap_or(req.file_id) } else { req.file_id };
    let mut body = Vec::with_capacity(48 + output.len());
    encode_ioctl_response(&mut body, req.ctl_code, file_id, &output);
    let mut reply = Reply::ok(body);
    if req.ctl_code == fsctl::VALIDATE_NEGOTIATE_INFO {
        // The answer must be signed, so the client can trust it (3.3.5.15.12).
        reply.signer = ctx.conn.sessions.get(&ctx.hdr.session_id).and_then(|s| s.signer.clone());
    }
    Ok(reply)
}

/// Longest resiliency timeout a client may ask for (Windows: 300 s).
const MAX_RESILIENCY_TIMEOUT_MS: u32 = 300_000;

/// FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9, NETWORK_RESILIENCY_REQUEST 2.2.31.3):
/// the open becomes resilient: lock sequences are checked for replays, and the open is
/// kept for the timeout (0: the server's default) when its connection is lost, to be
/// reconnected like a durable handle (MS-SMB2 3.3.5.9.7).
fn request_resiliency(ctx: &mut Ctx<'_>, file_id: FileId, input: &[u8]) -> Result<Vec<u8>, NtStatus> {
    if ctx.conn.dialect() < opportune_wire::negotiate::dialect::SMB210 {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    let timeout = match input.get(..4) {
        Some(b) if input.len() >= 8 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        _ => return Err(NtStatus::INVALID_PARAMETER),
    };
    if timeout > MAX_RESILIENCY_TIMEOUT_MS {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let client_guid = ctx.conn.client_guid();
    let user = ctx.session()?.owner();
    let id = ctx.open(file_id)?.file_id.volatile;
    let lease_key = ctx.server.locks.lease_key_of(id);
    let open = ctx.open(file_id)?;
    open.resilient = true;
    let ms = if timeout == 0 { crate::durable::DEFAULT_TIMEOUT_MS } else { timeout };
    let timeout = std::time::Duration::from_millis(u64::from(ms));
    match open.durable.as_mut() {
        Some(d) => d.timeout = d.timeout.max(timeout),
        None => {
            open.durable = Some(crate::durable::Durable {
                v2: false,
                create_guid: [0; 16],
                timeout,
                client_guid,
                lease_key,
                user,
            })
        }
    }
    Ok(Vec::new())
}

/// FILE_OBJECTID_BUFFER (MS-FSCC 2.1.3.1): object ids are not stored; each file's id is
/// derived from its inode and device, so it is stable for the file's life and unique on
/// the server. BirthVolumeId names the device; DomainId is zero.
fn object_id(open: &crate::open::Open) -> Result<Vec<u8>, NtStatus> {
    let info = open.handle.info()?;
    let mut o = Vec::with_capacity(64);
    o.put_u64(info.file_id);
    o.put_u64(info.dev);
    o.put_u64(info.dev);
    o.put_u64(0);
    o.put_u64(info.file_id);
    o.put_u64(info.dev);
    o.extend_from_slice(&[0u8; 16]);
    Ok(o)
}
