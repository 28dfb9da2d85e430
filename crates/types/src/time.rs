//! Windows FILETIME: 100-ns intervals since 1601-01-01 (MS-DTYP 2.3.3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds between 1601-01-01 and 1970-01-01.
const EPOCH_DIFF_SECS: u64 = 11_644_473_600;

/// Converts Unix seconds + nanoseconds into a FILETIME.
pub fn filetime_from_unix(secs: i64, nanos: u32) -> u64 {
    let base = (secs + EPOCH_DIFF_SECS as i64).max(0) as u64;
    base.saturating_mul(10_000_000).saturating_add(u64::from(nanos) / 100)
}

/// Converts a FILETIME back into Unix seconds and nanoseconds.
pub fn filetime_to_unix(ft: u64) -> (i64, u32) {
    let secs = (ft / 10_000_000) as i64 - EPOCH_DIFF_SECS as i64;
    let nanos = ((ft % 10_000_000) * 100) as u32;
    (secs, nanos)
}

/// The FILETIME of a SystemTime.
pub fn filetime_from_system(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => filetime_from_unix(d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d: Duration = e.duration();
            filetime_from_unix(-(d.as_secs() as i64), 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ft = filetime_from_unix(1_700_000_000, 123_456_700);
        assert_eq!(filetime_to_unix(ft), (1_700_000_000, 123_456_700));
        assert_eq!(filetime_from_unix(0, 0), 116_444_736_000_000_000);
    }
}
