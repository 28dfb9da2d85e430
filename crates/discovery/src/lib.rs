//! Network discovery for Opportune: the server announces itself with mDNS / DNS-SD
//! (RFC 6762, RFC 6763: `_smb._tcp`, `_device-info._tcp`) for macOS, Linux and
//! anything with a Bonjour browser, and answers WS-Discovery probes for the Windows
//! Network folder.
//!
//! The codecs and responders are sans-IO: bytes and `now` in, datagrams out. The tokio
//! driver that owns the sockets is behind the `driver` feature.

#![forbid(unsafe_code)]

pub mod dns;
pub mod http;
pub mod mdns;
mod ratelimit;
pub mod wsd;
pub mod xml;

pub use ratelimit::RateLimit;

#[cfg(feature = "driver")]
pub mod driver;
