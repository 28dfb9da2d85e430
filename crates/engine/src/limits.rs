//! The resource budget of every peer (docs/SECURITY.md): what one connection, one client
//! address or the whole server may hold before it is told no, and the deadlines that
//! end what an unauthenticated peer started. Every number here is enforced where the
//! memory or the descriptor is taken, not counted afterwards.

use std::time::Duration;

/// Budgets and deadlines. The defaults keep the whole process under 256 MiB of resident
/// memory under any one flood (the attack suite checks that) without refusing anything a
/// well-behaved client does.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A connection must finish NEGOTIATE this soon after it is accepted.
    pub negotiate_timeout: Duration,
    /// A connection must have an established session this soon after it is accepted.
    pub logon_timeout: Duration,
    /// Largest frame accepted before the connection has an established session (NEGOTIATE
    /// and SESSION_SETUP need a few KiB; Kerberos tickets stay below 64 KiB).
    pub max_preauth_frame: usize,
    /// Session setups in progress (not yet established) on one connection; each expires
    /// after `logon_timeout`.
    pub max_pending_logons: usize,
    /// Connections from one client address.
    pub max_connections_per_address: usize,
    /// Bytes of large frames (above 16 KiB) being received at once, server-wide. A
    /// connection whose next bytes do not fit waits (it is not read) until others finish.
    pub receive_memory: usize,
    /// Bytes of large responses being built or sent at once, server-wide. A request whose
    /// answer may be large waits for room before it is processed.
    pub send_memory: usize,
    /// A frame that stops arriving half-way, or a response the client stops reading, for
    /// this long ends the connection.
    pub stall_timeout: Duration,
    /// Largest sum of the responses of one compound request (MS-SMB2 3.3.4.1.3: they go in
    /// one frame, whose length field has 24 bits). A message whose response would not fit
    /// is answered STATUS_INSUFFICIENT_RESOURCES.
    pub max_compound_response: usize,
    /// Requests of one connection waiting asynchronously (blocking locks, deferred
    /// creates, change notifications).
    pub max_pending_requests: usize,
    /// Bytes the pending requests of one connection hold (the rest of a compound chain that
    /// waits behind an asynchronous request is kept until it resumes).
    pub max_pending_bytes: usize,
}

/// The largest payload a direct-TCP frame can carry (MS-SMB2 2.1: 24-bit length).
pub const FRAME_LIMIT: usize = 0x00FF_FFFF;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            negotiate_timeout: Duration::from_secs(10),
            logon_timeout: Duration::from_secs(30),
            max_preauth_frame: 64 * 1024,
            max_pending_logons: 4,
            max_connections_per_address: 256,
            receive_memory: 64 * 1024 * 1024,
            send_memory: 64 * 1024 * 1024,
            stall_timeout: Duration::from_secs(60),
            max_compound_response: 8 * 1024 * 1024 + 256 * 1024,
            max_pending_requests: 1024,
            max_pending_bytes: 16 * 1024 * 1024,
        }
    }
}
