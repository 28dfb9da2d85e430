//! The attack suite: every security finding against the server, replayed over real TCP
//! connections to the release binary on loopback addresses. Each test runs its attack at
//! full strength (bounded in count and time), then checks what docs/SECURITY.md promises:
//! the server's memory stays under its budget and a well-behaved client from another
//! loopback address is still served within 2 s.
//!
//! One module per family of findings; the finding numbers are those of the hardening
//! issue, repeated in each test's doc comment.

#[path = "../support/mod.rs"]
mod support;

mod identity;
mod resources;

use std::time::{Duration, Instant};
use support::client::Client;
use support::Server;

/// The whole process's resident memory under any one flood at default settings
/// (docs/SECURITY.md).
pub const RSS_BUDGET_KIB: u64 = 256 * 1024;

/// How long a well-behaved client may take to connect, log on and list a directory while
/// the server is under attack.
pub const SERVED_WITHIN: Duration = Duration::from_secs(2);

/// A well-behaved client from `from` connects, logs on, lists the share's root and
/// disconnects within [`SERVED_WITHIN`]; panics with what failed otherwise.
pub fn assert_served(server: &Server, from: &str) {
    let start = Instant::now();
    let mut c = Client::connect_from(from, server.addr, "user", "pass", "share")
        .unwrap_or_else(|e| panic!("client from {from} not served: {e} after {:?}", start.elapsed()));
    c.list_dir("").unwrap_or_else(|st| panic!("client from {from}: listing failed with {st:#x}"));
    let took = start.elapsed();
    assert!(took <= SERVED_WITHIN, "client from {from} served only after {took:?}");
}

/// The server's memory is within [`RSS_BUDGET_KIB`].
pub fn assert_within_budget(server: &Server, during: &str) {
    let rss = server.rss_kib();
    assert!(rss <= RSS_BUDGET_KIB, "{during}: server RSS {rss} KiB over the budget of {RSS_BUDGET_KIB} KiB");
}

#[test]
fn a_quiet_server_serves_a_client_from_another_address() {
    let s = support::start("attack-baseline");
    assert_served(&s, "127.0.0.2");
    assert_within_budget(&s, "idle");
}
mod floods;
