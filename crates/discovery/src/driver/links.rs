//! The links discovery speaks on: the IPv4 addresses of the interfaces the SMB server
//! listens on. A specific address is its own interface's; an unspecified one (0.0.0.0,
//! `::`) means every interface that is up, multicast-capable and not loopback. Found
//! without `unsafe`: interfaces from /sys/class/net, each one's address from a UDP
//! socket bound to it (SO_BINDTODEVICE) and "connected" to the mDNS group, which makes
//! the kernel pick that interface's source address.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `IFF_UP`, `IFF_LOOPBACK`, `IFF_MULTICAST` of <linux/if.h>.
const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_MULTICAST: u32 = 0x1000;

/// One link: the server's address on it, and the interface's name when it was found by
/// enumeration (for the logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub addr: Ipv4Addr,
    pub interface: Option<String>,
}

/// The links of a server listening on `listen`.
pub fn links(listen: IpAddr) -> Vec<Link> {
    match listen {
        IpAddr::V4(a) if !a.is_unspecified() => vec![Link { addr: a, interface: None }],
        IpAddr::V6(a) if !a.is_unspecified() => match a.to_ipv4_mapped() {
            Some(v4) => vec![Link { addr: v4, interface: None }],
            // IPv6 multicast transport is not implemented: nothing to speak on.
            None => Vec::new(),
        },
        _ => interfaces().into_iter().filter_map(|name| address(&name).map(|addr| Link { addr, interface: Some(name) })).collect(),
    }
}

/// Names of the interfaces that are up, multicast-capable and not loopback.
fn interfaces() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else { return Vec::new() };
    let mut out: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| {
            let flags = std::fs::read_to_string(format!("/sys/class/net/{name}/flags")).ok();
            let flags = flags.and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok()).unwrap_or(0);
            flags & IFF_UP != 0 && flags & IFF_MULTICAST != 0 && flags & IFF_LOOPBACK == 0
        })
        .collect();
    out.sort();
    out
}

/// The IPv4 source address the kernel would use on interface `name`, if it has one.
fn address(name: &str) -> Option<Ipv4Addr> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).ok()?;
    s.bind_device(Some(name.as_bytes())).ok()?;
    s.connect(&SockAddr::from(SocketAddr::from((crate::driver::MDNS_GROUP, crate::mdns::PORT)))).ok()?;
    match s.local_addr().ok()?.as_socket()? {
        SocketAddr::V4(a) if !a.ip().is_unspecified() => Some(*a.ip()),
        _ => None,
    }
}

/// A UDP socket for a multicast `group` on the link of `addr`: bound to the group and
/// port (so nothing else sent to the port reaches it), shared with other responders
/// (avahi, another server), receiving the group only from the interfaces it joined,
/// sending from `addr`'s interface with the TTL of 255 that mDNS asks for (RFC 6762 11).
pub fn multicast_socket(group: Ipv4Addr, port: u16, addr: Ipv4Addr) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SockAddr::from(SocketAddr::from((group, port))))?;
    s.set_multicast_all_v4(false)?;
    s.join_multicast_v4(&group, &addr)?;
    s.set_multicast_if_v4(&addr)?;
    s.set_multicast_ttl_v4(255)?;
    s.set_ttl_v4(255)?;
    s.set_multicast_loop_v4(true)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_its_own_link() {
        let a = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(links(IpAddr::V4(a)), vec![Link { addr: a, interface: None }]);
        assert_eq!(links("::ffff:10.1.2.3".parse().unwrap()), vec![Link { addr: a, interface: None }]);
        assert!(links("fe80::1".parse().unwrap()).is_empty());
    }

    #[test]
    fn enumeration_never_yields_loopback() {
        for l in links(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
            assert!(!l.addr.is_loopback(), "{l:?}");
            assert!(l.interface.is_some());
        }
    }
}
