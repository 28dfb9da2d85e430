//! The mDNS task of one link: the group socket, the responder, its announcements.

use super::{Config, Link, MDNS_GROUP};
use crate::mdns::{self, Destination, Responder, Service, Transmit};
use std::net::{IpAddr, SocketAddr};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest datagram read; mDNS allows up to 9,000 bytes (RFC 6762 17), the rest is cut.
const MAX_DATAGRAM: usize = 9000;
/// The pause after a failed receive.
pub const ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// `all` are every link of the server: their addresses are this host's.
pub fn spawn(config: &Config, link: &Link, all: &[Link], stop: watch::Receiver<bool>) -> std::io::Result<JoinHandle<()>> {
    let service = Service {
        instance: config.server_name.clone(),
        host: mdns::host_label(&config.server_name),
        port: config.listen.port(),
        addrs: vec![IpAddr::V4(link.addr)],
        txt: Vec::new(),
        model: config.model.clone(),
    };
    let mut responder = Responder::new(&service).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    responder.add_host_addresses(&all.iter().map(|l| IpAddr::V4(l.addr)).collect::<Vec<_>>());
    let socket = UdpSocket::from_std(super::links::multicast_socket(MDNS_GROUP, mdns::PORT, link.addr)?)?;
    tracing::info!(addr = %link.addr, interface = ?link.interface, instance = %service.instance, "mdns: announcing _smb._tcp");
    Ok(tokio::spawn(run(socket, responder, stop)))
}

async fn run(socket: UdpSocket, mut responder: Responder, mut stop: watch::Receiver<bool>) {
    let group = SocketAddr::from((MDNS_GROUP, mdns::PORT));
    responder.start(Instant::now().into_std());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let wake = responder.poll_timeout().map(Instant::from_std);
        let out = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    let before = responder.instance().to_string();
                    let out = responder.handle_query(&buf[..n], from, Instant::now().into_std());
                    if responder.instance() != before {
                        tracing::warn!(%from, old = %before, new = %responder.instance(), "mdns: name taken on the network, renamed");
                    }
                    out
                }
                Err(e) => {
                    // An interface going down can fail every receive: do not spin.
                    tracing::debug!(error = %e, "mdns: receive failed");
                    tokio::time::sleep(ERROR_PAUSE).await;
                    Vec::new()
                }
            },
            () = sleep_until(wake) => responder.handle_timeout(Instant::now().into_std()),
            _ = stop.changed() => break,
        };
        send(&socket, group, out).await;
    }
    let bye = responder.goodbye();
    send(&socket, group, vec![bye]).await;
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn send(socket: &UdpSocket, group: SocketAddr, out: Vec<Transmit>) {
    for t in out {
        let to = match t.to {
            Destination::Multicast => group,
            Destination::Unicast(a) => a,
        };
        if let Err(e) = socket.send_to(&t.packet, to).await {
            tracing::debug!(%to, error = %e, "mdns: send failed");
        }
    }
}
