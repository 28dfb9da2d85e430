//! FileFullEaInformation queries (MS-SMB2 3.3.5.20.1, MS-FSA 2.1.5.12.? and
//! MS-FSCC 2.4.15): the EAs named in the request's FILE_GET_EA_INFORMATION list,
//! or the file's EAs from where the last query of this open stopped. Names are
//! matched ignoring case and returned as stored (the case they were set with);
//! a name asked for that does not exist comes back as asked, with no value.

use crate::handlers::reply::{HResult, Reply};
use crate::open::Open;
use opportune_types::{AccessMask, NtStatus};
use opportune_wire::fscc::{full_ea_len, parse_get_ea_list, put_full_ea_list, FullEa};
use opportune_wire::query::{encode_buffer_response, QueryInfoRequest};

/// SL_RESTART_SCAN and SL_RETURN_SINGLE_ENTRY (MS-SMB2 2.2.37 Flags).
const SL_RESTART_SCAN: u32 = 0x1;
const SL_RETURN_SINGLE_ENTRY: u32 = 0x2;

pub(super) fn query(open: &mut Open, req: &QueryInfoRequest<'_>) -> HResult {
    if !open.has_access(AccessMask::FILE_READ_EA) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let eas: Vec<FullEa> = open
        .handle
        .eas()
        ?
        .into_iter()
        .map(|e| FullEa { flags: e.flags, name: e.name, value: e.value })
        .collect();
    let (wanted, listed) = if req.input.is_empty() {
        if eas.is_empty() {
            return Err(NtStatus::NO_EAS_ON_FILE);
        }
        let start = if req.flags & SL_RESTART_SCAN != 0 { 0 } else { open.dir.next_ea };
        if start >= eas.len() {
            return Err(NtStatus::NO_MORE_EAS);
        }
        (eas[start..].to_vec(), false)
    } else {
        let names = parse_get_ea_list(req.input).ok_or(NtStatus::EA_LIST_INCONSISTENT)?;
        let pick = |n: &String| {
            let found = eas.iter().find(|e| e.name.eq_ignore_ascii_case(n));
            found.cloned().unwrap_or(FullEa { flags: 0, name: n.clone(), value: Vec::new() })
        };
        (names.iter().map(pick).collect(), true)
    };
    let limit = req.output_buffer_length as usize;
    let single = req.flags & SL_RETURN_SINGLE_ENTRY != 0;
    let mut used = 0usize;
    let mut count = 0usize;
    for e in &wanted {
        let end = used.next_multiple_of(4) + full_ea_len(e.name.len(), e.value.len());
        if end > limit || (single && count == 1) {
            break;
        }
        used = end;
        count += 1;
    }
    if count == 0 {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    if !listed {
        let start = if req.flags & SL_RESTART_SCAN != 0 { 0 } else { open.dir.next_ea };
        open.dir.next_ea = start + count;
    }
    let mut data = Vec::with_capacity(used);
    put_full_ea_list(&mut data, &wanted[..count]);
    let status = if count < wanted.len() && !single { NtStatus::BUFFER_OVERFLOW } else { NtStatus::SUCCESS };
    let mut body = Vec::with_capacity(8 + data.len());
    encode_buffer_response(&mut body, &data);
    Ok(Reply::with_status(status, body))
}
