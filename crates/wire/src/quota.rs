//! Quota queries: SMB2_QUERY_QUOTA_INFO (MS-SMB2 2.2.37.1), the input of a QUERY_INFO of
//! SMB2_0_INFO_QUOTA, with its FILE_GET_QUOTA_INFORMATION SID list (MS-FSCC 2.4.41.1),
//! and the FILE_QUOTA_INFORMATION entries of the answer (MS-FSCC 2.4.41).
//!
//! Every length and offset of the input is checked against the bytes present before
//! anything is read; a SID list is walked by its NextEntryOffset links, each of which
//! must move forward and stay inside SidListLength.

use crate::cursor::{Put, Reader};
use crate::error::{Result, WireError};
use opportune_types::Sid;

/// The fixed part of SMB2_QUERY_QUOTA_INFO, before SidBuffer.
const FIXED: usize = 16;
/// NextEntryOffset and SidLength of FILE_GET_QUOTA_INFORMATION.
const GET_HEADER: usize = 8;
/// FILE_QUOTA_INFORMATION up to its Sid.
const ENTRY_HEADER: usize = 40;

/// A decoded SMB2_QUERY_QUOTA_INFO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaQuery {
    /// ReturnSingle: at most one entry.
    pub return_single: bool,
    /// RestartScan: enumerate from the beginning.
    pub restart_scan: bool,
    /// The SIDs of the SidList (format 1), in order; empty when SidListLength is 0.
    pub sids: Vec<Sid>,
    /// The StartSid (format 2), when there is no SID list and StartSidLength is not 0.
    pub start_sid: Option<Sid>,
}

/// Decodes the input buffer of a quota QUERY_INFO (MS-SMB2 2.2.37.1); any length or
/// offset that does not fit, or a SID that does not parse, is an error
/// (STATUS_INVALID_PARAMETER, MS-SMB2 3.3.5.20.4).
pub fn decode_quota_query(input: &[u8]) -> Result<QuotaQuery> {
    let mut r = Reader::new(input, 0);
    let return_single = r.u8()? != 0;
    let restart_scan = r.u8()? != 0;
    r.skip(2)?;
    let list_len = r.u32()? as usize;
    let start_len = r.u32()? as usize;
    let start_off = r.u32()? as usize;
    let buffer = &input[FIXED.min(input.len())..];
    if list_len != 0 {
        // MS-SMB2 3.3.5.20.4: with a SID list, StartSid is ignored.
        let list = buffer.get(..list_len).ok_or(WireError::OutOfBounds { offset: FIXED, length: list_len })?;
        return Ok(QuotaQuery { return_single, restart_scan, sids: decode_sid_list(list)?, start_sid: None });
    }
    let start_sid = if start_len != 0 {
        let end = start_off.checked_add(start_len).ok_or(WireError::Invalid("StartSidOffset"))?;
        let b = buffer.get(start_off..end).ok_or(WireError::OutOfBounds { offset: FIXED + start_off, length: start_len })?;
        Some(sid_exactly(b)?)
    } else {
        None
    };
    Ok(QuotaQuery { return_single, restart_scan, sids: Vec::new(), start_sid })
}

/// A SID that takes exactly `b`.
fn sid_exactly(b: &[u8]) -> Result<Sid> {
    match Sid::read_binary(b) {
        Some((sid, n)) if n == b.len() => Ok(sid),
        _ => Err(WireError::Invalid("SID")),
    }
}

/// FILE_GET_QUOTA_INFORMATION entries linked by NextEntryOffset (MS-FSCC 2.4.41.1).
fn decode_sid_list(list: &[u8]) -> Result<Vec<Sid>> {
    let mut sids = Vec::new();
    let mut at = 0usize;
    loop {
        let mut r = Reader::new(list, at);
        let next = r.u32()? as usize;
        let sid_len = r.u32()? as usize;
        let start = at + GET_HEADER;
        let sid = list.get(start..start.saturating_add(sid_len)).ok_or(WireError::OutOfBounds { offset: start, length: sid_len })?;
        sids.push(sid_exactly(sid)?);
        if next == 0 {
            return Ok(sids);
        }
        if next < GET_HEADER + sid_len {
            return Err(WireError::Invalid("NextEntryOffset"));
        }
        at = at.checked_add(next).filter(|&a| a < list.len()).ok_or(WireError::Invalid("NextEntryOffset"))?;
    }
}

/// One FILE_QUOTA_INFORMATION (MS-FSCC 2.4.41).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaEntry {
    pub sid: Sid,
    /// FILETIME of the last change to the entry.
    pub change_time: u64,
    pub used: u64,
    /// u64::MAX (-1): no threshold / no limit.
    pub threshold: u64,
    pub limit: u64,
}

/// The size `e` takes in an answer, 8-byte aligned as entries are laid out.
pub fn quota_entry_len(e: &QuotaEntry) -> usize {
    (ENTRY_HEADER + e.sid.binary_len()).next_multiple_of(8)
}

/// Encodes as many of `entries` as fit in `max` bytes, linked by NextEntryOffset (the
/// last one 0); how many were encoded.
pub fn encode_quota_entries(out: &mut Vec<u8>, entries: &[QuotaEntry], max: usize) -> usize {
    let base = out.len();
    let mut last: Option<usize> = None;
    let mut n = 0;
    for e in entries {
        let start = (out.len() - base).next_multiple_of(8);
        if start + ENTRY_HEADER + e.sid.binary_len() > max {
            break;
        }
        out.resize(base + start, 0);
        if let Some(prev) = last {
            let link = (start - prev) as u32;
            out[base + prev..base + prev + 4].copy_from_slice(&link.to_le_bytes());
        }
        out.put_u32(0);
        out.put_u32(e.sid.binary_len() as u32);
        out.put_u64(e.change_time);
        out.put_u64(e.used);
        out.put_u64(e.threshold);
        out.put_u64(e.limit);
        e.sid.write_binary(out);
        last = Some(start);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(rid: u32) -> Sid {
        Sid::new(5, &[21, 7, 8, 9, rid])
    }

    fn get_list(sids: &[Sid]) -> Vec<u8> {
        let mut l = Vec::new();
        for (i, s) in sids.iter().enumerate() {
            let len = s.binary_len();
            let next = if i + 1 == sids.len() { 0 } else { (GET_HEADER + len).next_multiple_of(4) as u32 };
            l.put_u32(next);
            l.put_u32(len as u32);
            s.write_binary(&mut l);
            l.pad_to(4);
        }
        l
    }

    fn query(single: u8, restart: u8, list: &[u8], start: &[u8]) -> Vec<u8> {
        let mut q = vec![single, restart, 0, 0];
        q.put_u32(list.len() as u32);
        q.put_u32(start.len() as u32);
        q.put_u32(0);
        q.extend_from_slice(list);
        q.extend_from_slice(start);
        q
    }

    #[test]
    fn sid_lists_and_start_sids_decode() {
        let (a, b) = (sid(1000), sid(1001));
        let q = decode_quota_query(&query(1, 0, &get_list(&[a.clone(), b.clone()]), &[])).unwrap();
        assert_eq!(q, QuotaQuery { return_single: true, restart_scan: false, sids: vec![a.clone(), b], start_sid: None });
        let q = decode_quota_query(&query(0, 1, &[], &a.to_binary())).unwrap();
        assert_eq!((q.restart_scan, q.sids.len(), q.start_sid), (true, 0, Some(a)));
        let q = decode_quota_query(&query(0, 0, &[], &[])).unwrap();
        assert!(q.sids.is_empty() && q.start_sid.is_none());
    }

    #[test]
    fn bad_lengths_and_links_are_errors() {
        let a = sid(1000);
        assert!(decode_quota_query(&[0; 15]).is_err());
        // SidListLength past the buffer.
        let mut q = query(0, 0, &get_list(std::slice::from_ref(&a)), &[]);
        q[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decode_quota_query(&q).is_err());
        // A link that points backwards, at itself, or past the list.
        for next in [0u32.wrapping_sub(8), 4, 1000] {
            let mut l = get_list(&[a.clone(), a.clone()]);
            l[..4].copy_from_slice(&next.to_le_bytes());
            assert!(decode_quota_query(&query(0, 0, &l, &[])).is_err(), "next {next}");
        }
        // A SidLength that does not match the SID.
        let mut l = get_list(std::slice::from_ref(&a));
        l[4..8].copy_from_slice(&((a.binary_len() - 4) as u32).to_le_bytes());
        assert!(decode_quota_query(&query(0, 0, &l, &[])).is_err());
        // A StartSid outside the buffer, or an offset that overflows.
        let mut q = query(0, 0, &[], &a.to_binary());
        q[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_quota_query(&q).is_err());
        let mut q = query(0, 0, &[], &a.to_binary());
        q[8..12].copy_from_slice(&100u32.to_le_bytes());
        assert!(decode_quota_query(&q).is_err());
    }

    #[test]
    fn entries_are_linked_aligned_and_bounded() {
        let e = |rid| QuotaEntry { sid: sid(rid), change_time: 1, used: 10, threshold: u64::MAX, limit: u64::MAX };
        let entries = [e(1000), e(1001), e(1002)];
        let one = quota_entry_len(&entries[0]);
        assert_eq!(one, 72);
        let mut out = Vec::new();
        assert_eq!(encode_quota_entries(&mut out, &entries, 2 * one + 1), 2);
        assert_eq!(u32::from_le_bytes(out[..4].try_into().unwrap()) as usize, one);
        assert_eq!(u32::from_le_bytes(out[one..one + 4].try_into().unwrap()), 0);
        assert_eq!(u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize, sid(1).binary_len());
        assert_eq!(u64::from_le_bytes(out[16..24].try_into().unwrap()), 10);
        assert_eq!(Sid::read_binary(&out[40..]).unwrap().0, sid(1000));
        let mut out = Vec::new();
        assert_eq!(encode_quota_entries(&mut out, &entries, ENTRY_HEADER), 0);
        assert!(out.is_empty());
    }
}
