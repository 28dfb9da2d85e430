//! The only place that sets TCP socket options (keepalive, `TCP_USER_TIMEOUT`).
//!
//! Safety contract: everything goes through `socket2::SockRef`, which borrows the
//! descriptor of a live socket for the duration of one call and never closes it; no
//! `unsafe` here. Options only change how soon the kernel gives up on a silent peer; a
//! refused option leaves the kernel's defaults, which is how the server behaved before.

use opportune_engine::liveness::TcpOptions;
use socket2::{SockRef, TcpKeepalive};
use std::os::fd::AsFd;
use std::time::Duration;

/// Applies `o` to `sock`.
pub fn apply(sock: &impl AsFd, o: &TcpOptions) -> std::io::Result<()> {
    let s = SockRef::from(sock);
    match o.keepalive {
        Some(k) => {
            // The kernel counts keepalive times in whole seconds, at least one.
            let secs = |d: Duration| Duration::from_secs(d.as_secs().max(1));
            let params =
                TcpKeepalive::new().with_time(secs(k.idle)).with_interval(secs(k.interval)).with_retries(k.count.max(1));
            s.set_tcp_keepalive(&params)?;
            s.set_keepalive(true)?;
        }
        None => s.set_keepalive(false)?,
    }
    s.set_tcp_user_timeout(o.user_timeout.filter(|d| !d.is_zero()))
}

/// Reads back what `sock` has (keepalive parameters only when keepalive is on); the
/// tests' way of checking [`apply`].
#[cfg(test)]
pub fn read(sock: &impl AsFd) -> std::io::Result<TcpOptions> {
    let s = SockRef::from(sock);
    let keepalive = if s.keepalive()? {
        Some(opportune_engine::Keepalive {
            idle: s.tcp_keepalive_time()?,
            interval: s.tcp_keepalive_interval()?,
            count: s.tcp_keepalive_retries()?,
        })
    } else {
        None
    };
    Ok(TcpOptions { keepalive, user_timeout: s.tcp_user_timeout()? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opportune_engine::LivenessConfig;

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, _) = l.accept().expect("accept");
        (s, c)
    }

    #[test]
    fn options_are_set_and_read_back_on_a_real_socket() {
        let (server, _client) = pair();
        assert_eq!(read(&server).expect("read"), TcpOptions::KERNEL_DEFAULT);
        let c = LivenessConfig::default();
        let idle = TcpOptions { keepalive: Some(c.idle), user_timeout: None };
        apply(&server, &idle).expect("idle");
        assert_eq!(read(&server).expect("read"), idle);
        let probing = TcpOptions { keepalive: Some(c.probe), user_timeout: Some(c.probe_timeout) };
        apply(&server, &probing).expect("probe");
        assert_eq!(read(&server).expect("read"), probing);
        apply(&server, &TcpOptions::KERNEL_DEFAULT).expect("off");
        assert_eq!(read(&server).expect("read"), TcpOptions::KERNEL_DEFAULT);
    }

    #[test]
    fn a_zero_user_timeout_means_the_kernel_default() {
        let (server, _client) = pair();
        apply(&server, &TcpOptions { keepalive: None, user_timeout: Some(Duration::ZERO) }).expect("apply");
        assert_eq!(read(&server).expect("read").user_timeout, None);
    }
}
