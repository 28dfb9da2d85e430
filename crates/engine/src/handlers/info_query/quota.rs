//! SMB2_0_INFO_QUOTA (MS-SMB2 3.3.5.20.4, MS-FSA 2.1.5.21): the quota entries of the
//! share's owners, from the same usage table the checks use (`crate::quota`).
//!
//! * A share that tracks no quotas answers STATUS_NOT_SUPPORTED.
//! * A SID list answers one entry per listed SID (0 used and no limit for a SID that owns
//!   nothing and has no limit); otherwise the owners are enumerated in the order the
//!   table first saw them, from StartSid, or from where the open's last enumeration
//!   stopped unless RestartScan; nothing left is STATUS_NO_MORE_ENTRIES.
//! * ReturnSingle answers at most one entry; as many as fit otherwise, and a first entry
//!   that does not fit is STATUS_BUFFER_TOO_SMALL.
//! * Only members of the share's `admin_users` (BUILTIN\Administrators in the tree's
//!   token) see other users' entries: others enumerate their own only, and asking for
//!   another SID is STATUS_ACCESS_DENIED.
//! * QuotaThreshold is the limit (no warning level is kept); no limit is -1 for both.

use crate::handlers::reply::{HResult, Reply};
use crate::open::Open;
use crate::share_state::ShareState;
use opportune_types::sid::well_known;
use opportune_types::{NtStatus, Sid, Token};
use opportune_wire::query::{encode_buffer_response, QueryInfoRequest};
use opportune_wire::quota::{decode_quota_query, encode_quota_entries, QuotaEntry};

pub(super) fn query(open: &mut Open, req: &QueryInfoRequest<'_>, share: &ShareState, token: &Token) -> HResult {
    let Some(q) = share.quota.get() else { return Err(NtStatus::NOT_SUPPORTED) };
    let query = decode_quota_query(req.input)?;
    let admin = token.contains(&well_known::administrators());
    let entry = |sid: Sid| {
        let (used, limit) = q.entry_of(&sid);
        let limit = limit.unwrap_or(u64::MAX);
        QuotaEntry { sid, change_time: 0, used, threshold: limit, limit }
    };
    let max = req.output_buffer_length as usize;
    let enumerating = query.sids.is_empty();
    let (entries, from) = if !query.sids.is_empty() {
        if !admin && query.sids.iter().any(|s| *s != token.user) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        (query.sids.into_iter().map(entry).collect::<Vec<_>>(), 0)
    } else {
        let all: Vec<QuotaEntry> =
            q.entries().into_iter().filter(|(s, ..)| admin || *s == token.user).map(|(s, ..)| entry(s)).collect();
        let from = match &query.start_sid {
            Some(start) => all.iter().position(|e| e.sid == *start).unwrap_or(all.len()),
            None if query.restart_scan => 0,
            None => open.dir.next_quota,
        };
        (all, from)
    };
    let rest = entries.get(from..).unwrap_or_default();
    if rest.is_empty() {
        return Err(NtStatus::NO_MORE_ENTRIES);
    }
    let rest = if query.return_single { &rest[..1] } else { rest };
    let mut data = Vec::new();
    let n = encode_quota_entries(&mut data, rest, max);
    if n == 0 {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    if enumerating {
        open.dir.next_quota = from + n;
    }
    let mut body = Vec::with_capacity(8 + data.len());
    encode_buffer_response(&mut body, &data);
    Ok(Reply::ok(body))
}
