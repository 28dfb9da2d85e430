//! The WS-Discovery task of one link: the group socket (239.255.255.250:3702), the
//! metadata endpoint (TCP port 5357 on the link's address), the responder they share.

use super::{Config, Link};
use crate::http::{self, Parsed};
use crate::wsd::{self, Device, Responder};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

pub const WSD_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// SOAP-over-UDP datagrams are at most 64 KiB; WS-Discovery requests far smaller.
const MAX_DATAGRAM: usize = 32 * 1024;
/// Metadata requests served at once per link, and how long one may take.
const MAX_HTTP: usize = 8;
const HTTP_DEADLINE: Duration = Duration::from_secs(5);
/// Hello and Bye are repeated (SOAP-over-UDP 3.4: MULTICAST_UDP_REPEAT); receivers
/// drop the repeats by MessageID.
const REPEAT: usize = 2;
const REPEAT_GAP: Duration = Duration::from_millis(150);

pub fn spawn(config: &Config, link: &Link, stop: watch::Receiver<bool>) -> std::io::Result<JoinHandle<()>> {
    let machine = std::fs::read("/etc/machine-id").unwrap_or_default();
    let uuid = wsd::device_uuid(machine.trim_ascii(), &config.server_name);
    let endpoint = wsd::urn(&uuid);
    let device = Device {
        uuid,
        computer: config.server_name.clone(),
        workgroup: config.workgroup.clone(),
        xaddrs: format!("http://{}:{}/{}", link.addr, wsd::HTTP_PORT, &endpoint["urn:uuid:".len()..]),
    };
    let instance = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs());
    let responder = Arc::new(Mutex::new(Responder::new(device, instance)));
    let socket = UdpSocket::from_std(super::links::multicast_socket(WSD_GROUP, wsd::PORT, link.addr)?)?;
    let http = std::net::TcpListener::bind((link.addr, wsd::HTTP_PORT))?;
    http.set_nonblocking(true)?;
    let http = TcpListener::from_std(http)?;
    tracing::info!(addr = %link.addr, interface = ?link.interface, %endpoint, "wsd: answering probes");
    Ok(tokio::spawn(run(socket, http, responder, stop)))
}

async fn run(socket: UdpSocket, http: TcpListener, responder: Arc<Mutex<Responder>>, mut stop: watch::Receiver<bool>) {
    let group = SocketAddr::from((WSD_GROUP, wsd::PORT));
    let hello = lock(&responder).hello();
    multicast(&socket, group, &hello).await;
    let slots = Arc::new(Semaphore::new(MAX_HTTP));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = r else {
                    tokio::time::sleep(super::mdns_task::ERROR_PAUSE).await;
                    continue;
                };
                let reply = lock(&responder).handle_datagram(&buf[..n], std::time::Instant::now());
                if let Some(reply) = reply
                    && let Err(e) = socket.send_to(&reply, from).await
                {
                    tracing::debug!(%from, error = %e, "wsd: send failed");
                }
            }
            a = http.accept() => {
                let Ok((stream, _)) = a else {
                    // Out of descriptors, say: wait rather than spin.
                    tokio::time::sleep(super::mdns_task::ERROR_PAUSE).await;
                    continue;
                };
                // Beyond the cap a connection is closed at once.
                let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
                let responder = responder.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(HTTP_DEADLINE, serve_http(stream, &responder)).await;
                    drop(slot);
                });
            }
            _ = stop.changed() => break,
        }
    }
    let bye = lock(&responder).bye();
    multicast(&socket, group, &bye).await;
}

fn lock(r: &Mutex<Responder>) -> std::sync::MutexGuard<'_, Responder> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

async fn multicast(socket: &UdpSocket, group: SocketAddr, packet: &[u8]) {
    for i in 0..REPEAT {
        if i > 0 {
            tokio::time::sleep(REPEAT_GAP).await;
        }
        if let Err(e) = socket.send_to(packet, group).await {
            tracing::debug!(error = %e, "wsd: multicast failed");
        }
    }
}

/// One request, one answer, then close.
async fn serve_http(mut stream: TcpStream, responder: &Mutex<Responder>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let reply = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        match http::parse(&buf) {
            Parsed::Incomplete => continue,
            Parsed::Bad => break http::response(400, ""),
            Parsed::Post { body, .. } => match lock(responder).handle_get(body) {
                Some(answer) => break http::response(200, &answer),
                None => break http::response(400, ""),
            },
        }
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await
}
