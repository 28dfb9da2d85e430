//! What the server counts, through the `metrics` facade (issue 12, item 4). The library
//! never picks a backend: `opportune serve --metrics ADDR` installs the Prometheus
//! exporter before the server starts; without one every call here is a no-op.
//!
//! Names and labels are documented in docs/STATUS.md ("Metrics"). Labels are bounded:
//! share names come from the configuration, NT status names from a fixed table, kinds
//! and outcomes from enums. Per-share counters are fetched once per share
//! ([`ShareMetrics`]) so the I/O path only adds to an atomic.

use metrics::{counter, gauge, histogram, Counter};
use std::time::Duration;

/// Histogram bucket bounds, in seconds, for acknowledgment and waiting times: from a LAN
/// round trip to the default 35 s break timeout.
pub const SECONDS_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 35.0, 60.0];

/// Counters of one share.
#[derive(Clone)]
pub struct ShareMetrics {
    pub opens: Counter,
    pub closes: Counter,
    pub read_bytes: Counter,
    pub written_bytes: Counter,
}

impl ShareMetrics {
    pub fn new(share: &str) -> ShareMetrics {
        let s = share.to_string();
        ShareMetrics {
            opens: counter!("opportune_opens_total", "share" => s.clone()),
            closes: counter!("opportune_closes_total", "share" => s.clone()),
            read_bytes: counter!("opportune_read_bytes_total", "share" => s.clone()),
            written_bytes: counter!("opportune_written_bytes_total", "share" => s),
        }
    }
}

/// Describes every metric (HELP lines), once at start.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("opportune_breaks_total", "Oplock and lease breaks, by kind and how they ended");
    describe_histogram!("opportune_break_ack_seconds", Unit::Seconds, "Time from a break's notification to its acknowledgment");
    describe_histogram!("opportune_deferred_create_wait_seconds", Unit::Seconds, "Time CREATEs waited for breaks");
    describe_histogram!("opportune_blocking_lock_wait_seconds", Unit::Seconds, "Time blocking byte-range locks waited");
    describe_counter!("opportune_opens_total", "Opens completed, by share");
    describe_counter!("opportune_closes_total", "Opens closed, by share");
    describe_counter!("opportune_read_bytes_total", Unit::Bytes, "Bytes read by clients, by share");
    describe_counter!("opportune_written_bytes_total", Unit::Bytes, "Bytes written by clients, by share");
    describe_counter!("opportune_logons_total", "Session setups that ended, by result");
    describe_counter!("opportune_errors_total", "Responses with an error status, by NT status");
    describe_gauge!("opportune_connections", "Connections open now");
    describe_gauge!("opportune_sessions", "Sessions established now");
    describe_gauge!("opportune_open_files", "Opens held now (disconnected durable handles included)");
    describe_counter!("opportune_liveness_verdicts_total", "Connections ended because their host was found gone");
}

/// A break ended `after` it was sent; acknowledged ones feed the latency histogram.
pub fn break_ended(kind: &'static str, outcome: &'static str, after: Duration, ack_required: bool) {
    counter!("opportune_breaks_total", "kind" => kind, "outcome" => outcome).increment(1);
    if ack_required && outcome == "acknowledged" {
        histogram!("opportune_break_ack_seconds", "kind" => kind).record(after.as_secs_f64());
    }
}

pub fn create_waited(d: Duration) {
    histogram!("opportune_deferred_create_wait_seconds").record(d.as_secs_f64());
}

pub fn lock_waited(d: Duration) {
    histogram!("opportune_blocking_lock_wait_seconds").record(d.as_secs_f64());
}

pub fn logon(ok: bool) {
    counter!("opportune_logons_total", "result" => if ok { "success" } else { "failure" }).increment(1);
}

/// A response carried an error status (warnings and STATUS_PENDING are not errors).
pub fn error(status: opportune_types::NtStatus) {
    let name = status.name().unwrap_or("other");
    counter!("opportune_errors_total", "status" => name).increment(1);
}

pub fn connections(delta: f64) {
    gauge!("opportune_connections").increment(delta);
}

pub fn sessions_now(n: usize) {
    gauge!("opportune_sessions").set(n as f64);
}

pub fn open_files_now(n: usize) {
    gauge!("opportune_open_files").set(n as f64);
}

pub fn vanished() {
    counter!("opportune_liveness_verdicts_total").increment(1);
}
