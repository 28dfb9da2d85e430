//! The tokio driver: one task per link and protocol, each owning its socket and its
//! sans-IO responder, fed the datagrams and the clock. [`start`] spawns them and
//! returns a [`Discovery`] whose [`Discovery::stop`] makes each task say goodbye (mDNS
//! records with TTL 0, a WS-Discovery Bye) before it ends.

mod links;
mod mdns_task;
mod wsd_task;

pub use links::{links, Link};

use std::net::{Ipv4Addr, SocketAddr};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The mDNS group (RFC 6762 3).
pub const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);

/// What discovery announces, and which of it.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server name: the mDNS instance name and host label.
    pub server_name: String,
    /// Where the SMB server listens: the links, and the port announced.
    pub listen: SocketAddr,
    pub mdns: bool,
    /// The WS-Discovery responder.
    pub wsd: bool,
    /// The workgroup WS-Discovery names (`pub:Computer` NAME/Workgroup:WORKGROUP).
    pub workgroup: String,
    /// The `_device-info._tcp` model (`model=...`): Finder's icon.
    pub model: Option<String>,
}

/// Whether discovery is on by default for a server listening on `listen`: only when
/// it listens beyond loopback.
pub fn default_on(listen: SocketAddr) -> bool {
    match listen.ip() {
        std::net::IpAddr::V4(a) => !a.is_loopback(),
        std::net::IpAddr::V6(a) => !a.is_loopback() && a.to_ipv4_mapped().is_none_or(|m| !m.is_loopback()),
    }
}

/// The running tasks.
pub struct Discovery {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    links: Vec<Link>,
}

impl Discovery {
    /// The links discovery speaks on.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Says goodbye on every link and waits for the tasks to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts what `config` turns on, on every link of its listen address; a link whose
/// socket cannot be set up is logged and left out.
pub fn start(config: &Config) -> Discovery {
    let (stop, watch) = watch::channel(false);
    let links = links::links(config.listen.ip());
    let mut tasks = Vec::new();
    for link in &links {
        if config.mdns {
            match mdns_task::spawn(config, link, &links, watch.clone()) {
                Ok(t) => tasks.push(t),
                Err(e) => tracing::warn!(addr = %link.addr, error = %e, "mdns: cannot start on this link"),
            }
        }
        if config.wsd {
            match wsd_task::spawn(config, link, watch.clone()) {
                Ok(t) => tasks.push(t),
                Err(e) => tracing::warn!(addr = %link.addr, error = %e, "wsd: cannot start on this link"),
            }
        }
    }
    if links.is_empty() && (config.mdns || config.wsd) {
        tracing::warn!(listen = %config.listen, "discovery: no IPv4 multicast interface to announce on");
    }
    Discovery { stop, tasks, links }
}
