//! A client host that can be made to vanish: a network namespace joined to the host by
//! a veth pair in a private /30, and a blackhole route inside it that swallows all it
//! sends, TCP acknowledgments included (this machine's kernel has no netem and no
//! iptables; see ../shared/DEPENDENCIES.md). Only the namespace's own two addresses are
//! ever used; the /30 is also blackholed in the host namespace with a high metric, so
//! its traffic can never follow the default route. Everything is torn down on drop,
//! also when a test panics, and left-overs of an earlier crashed run are removed first.
//!
//! The one `unsafe` call of the test suite, `setns`, lives here with its contract.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

const NS: &str = "opportune-live";
const VETH_HOST: &str = "oplive0";
const VETH_NS: &str = "oplive1";
const SUBNET: &str = "10.254.254.0/30";
/// The host side's address: the server listens here.
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 254, 254, 1);
const NS_IP: &str = "10.254.254.2/30";
const HOST_CIDR: &str = "10.254.254.1/30";
const METRIC: &str = "4000";

/// Why these tests cannot run here (not root, no `ip`), or None.
pub fn unavailable() -> Option<String> {
    // /proc/self belongs to the process's effective user.
    let euid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if euid.ok() != Some(0) {
        return Some("needs root (network namespaces, veth, routes)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("needs the `ip` command (iproute2)".into()),
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The namespace, the veth pair and the routes; removed on drop.
pub struct Netns {
    _private: (),
}

impl Netns {
    /// Sets everything up (after removing what an earlier run may have left).
    pub fn create() -> Result<Netns, String> {
        teardown();
        let guard = Netns { _private: () };
        ip(&["route", "add", "blackhole", SUBNET, "metric", METRIC])?;
        ip(&["netns", "add", NS])?;
        ip(&["link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS])?;
        ip(&["link", "set", VETH_NS, "netns", NS])?;
        ip(&["addr", "add", HOST_CIDR, "dev", VETH_HOST])?;
        ip(&["link", "set", VETH_HOST, "up"])?;
        ip(&["-n", NS, "addr", "add", NS_IP, "dev", VETH_NS])?;
        ip(&["-n", NS, "link", "set", VETH_NS, "up"])?;
        ip(&["-n", NS, "link", "set", "lo", "up"])?;
        Ok(guard)
    }

    /// A TCP connection to `server` made from inside the namespace: the socket is created
    /// on a thread that joined the namespace (setns is per thread) and keeps that
    /// namespace for its whole life.
    pub fn connect(&self, server: SocketAddr) -> Result<TcpStream, String> {
        std::thread::spawn(move || {
            let ns = std::fs::File::open(format!("/run/netns/{NS}")).map_err(|e| format!("open netns: {e}"))?;
            // SAFETY: `ns` is an open namespace descriptor for the duration of the call;
            // setns only changes this (short-lived) thread's network namespace.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            TcpStream::connect_timeout(&server, Duration::from_secs(5)).map_err(|e| format!("connect from namespace: {e}"))
        })
        .join()
        .map_err(|_| "namespace thread panicked".to_string())?
    }

    /// The namespace's host vanishes: everything it sends to the server is dropped.
    pub fn vanish(&self) -> Result<(), String> {
        ip(&["-n", NS, "route", "add", "blackhole", &format!("{HOST_IP}/32")])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        teardown();
    }
}

/// Removes the namespace (its veth end and routes go with it), the host's veth end and
/// the host's blackhole route; errors mean "was not there".
fn teardown() {
    let _ = ip(&["netns", "del", NS]);
    let _ = ip(&["link", "del", VETH_HOST]);
    let _ = ip(&["route", "del", "blackhole", SUBNET, "metric", METRIC]);
}
