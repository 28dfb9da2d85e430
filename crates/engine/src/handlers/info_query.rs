//! QUERY_INFO (MS-SMB2 3.3.5.20): file, file-system and security information.
//!
//! Buffer rules (MS-SMB2 3.3.5.20.1, MS-FSA 2.1.5.12): an output buffer
//! smaller than a class's fixed structure is STATUS_INFO_LENGTH_MISMATCH; a
//! buffer that holds the fixed part but not the whole variable-length name
//! gets the truncated data with STATUS_BUFFER_OVERFLOW. For variable-length
//! classes the fixed structure is the C `sizeof` with a one-character name
//! array, rounded up to 8 bytes (e.g. 104 for FileAllInformation), as Windows
//! measures it.

mod ea;
mod file;
mod fs;
mod info;
mod quota;

use super::ctx::Ctx;
use super::reply::{HResult, Reply};
use crate::open::Open;
use crate::security::{self, SACL_SECURITY_INFORMATION};
use opportune_types::{AccessMask, NtStatus};
use opportune_wire::query::{encode_buffer_response, info_type, QueryInfoRequest};

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = QueryInfoRequest::decode(ctx.msg)?;
    if req.output_buffer_length > ctx.server.config.max_io_size {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let share = ctx.share()?;
    let dialect = ctx.conn.dialect();
    let server = ctx.server;
    let token = ctx.tree()?.token.clone();
    let open = ctx.open(req.file_id)?;
    let info = match req.info_type {
        info_type::FILE if req.info_class == opportune_wire::fscc::class::FULL_EA => {
            return ea::query(open, &req);
        }
        info_type::FILE => file::query(open, server, dialect, req.info_class)?,
        info_type::FILESYSTEM => fs::query(&share, &token.user, req.info_class)?,
        info_type::SECURITY => return query_security(open, &req, &token),
        info_type::QUOTA => return quota::query(open, &req, &share, &token),
        _ => return Err(NtStatus::INVALID_PARAMETER),
    };
    let limit = req.output_buffer_length as usize;
    if limit < info.min {
        return Err(NtStatus::INFO_LENGTH_MISMATCH);
    }
    let (status, data) = if info.data.len() > limit {
        (NtStatus::BUFFER_OVERFLOW, &info.data[..limit])
    } else {
        (NtStatus::SUCCESS, &info.data[..])
    };
    let mut body = Vec::with_capacity(8 + data.len());
    encode_buffer_response(&mut body, data);
    Ok(Reply::with_status(status, body))
}

/// SMB2_0_INFO_SECURITY (MS-SMB2 3.3.5.20.3, MS-FSA 2.1.5.13): READ_CONTROL for
/// owner, group or DACL, ACCESS_SYSTEM_SECURITY for the SACL; a query for none of them
/// answers an empty descriptor whatever the open's rights (smb2.sdread). A buffer too
/// small for the whole descriptor gets STATUS_BUFFER_TOO_SMALL with the size needed.
fn query_security(open: &Open, req: &QueryInfoRequest<'_>, token: &opportune_types::Token) -> HResult {
    let parts = req.additional_information;
    let read_control = security::OWNER_SECURITY_INFORMATION | security::GROUP_SECURITY_INFORMATION | security::DACL_SECURITY_INFORMATION;
    if parts & read_control != 0 && !open.has_access(AccessMask::READ_CONTROL) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if parts & SACL_SECURITY_INFORMATION != 0 && !open.has_access(AccessMask::ACCESS_SYSTEM_SECURITY) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let stored = open.handle.security_descriptor()?;
    let sd = security::encode(&security::current(stored, token), parts)?;
    if sd.len() > req.output_buffer_length as usize {
        let mut body = Vec::new();
        opportune_wire::error_response::encode_error_with_data(&mut body, &(sd.len() as u32).to_le_bytes());
        return Ok(Reply::with_status(NtStatus::BUFFER_TOO_SMALL, body));
    }
    let mut body = Vec::with_capacity(8 + sd.len());
    encode_buffer_response(&mut body, &sd);
    Ok(Reply::ok(body))
}
