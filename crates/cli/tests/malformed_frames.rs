//! Thousands of malformed and truncated frames against a live server: it must not
//! crash or hang, and a well-behaved client must still be served afterwards.

mod support;

use std::net::TcpStream;
use std::time::Duration;
use support::{negotiate_request, read_frame, send_frame, start, status};

/// Deterministic xorshift, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A corrupted version of a valid message: flipped bytes, truncation, a random command,
/// random offsets and lengths, or plain noise.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    match rng.below(6) {
        0 => m.truncate(rng.below(m.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
        }
        2 => m[12] = rng.below(0x20) as u8,
        3 => {
            let i = 64 + rng.below(m.len() - 64);
            let v = rng.next().to_le_bytes();
            let end = (i + 4).min(m.len());
            m[i..end].copy_from_slice(&v[..end - i]);
        }
        4 => m = (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        _ => {
            // A "compound" whose NextCommand points anywhere.
            let v = (rng.next() as u32).to_le_bytes();
            m[20..24].copy_from_slice(&v);
            m.extend_from_slice(base);
        }
    }
    m
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s
}

#[test]
fn survives_malformed_frames_and_still_serves() {
    let server = start("malformed");
    let mut rng = Rng(0x005E_ED0F_0BB0_u64);
    let base = negotiate_request(0);
    let mut sent = 0;
    let mut connections = 0;
    // The server drops a connection at its first bad frame, so garbage goes out over many
    // connections until a few thousand frames were delivered (bounded in count).
    while sent < 3000 && connections < 5000 {
        connections += 1;
        let mut s = connect(server.addr);
        // Half the connections negotiate first, so later garbage reaches the command handlers.
        if rng.below(2) == 0 {
            send_frame(&mut s, &base).expect("send negotiate");
            let _ = read_frame(&mut s);
        }
        for _ in 0..50 {
            let m = mutate(&mut rng, &base);
            if send_frame(&mut s, &m).is_err() {
                break;
            }
            sent += 1;
        }
        // Also an oversized length header.
        let _ = std::io::Write::write_all(&mut s, &[0x00, 0xFF, 0xFF, 0xFF]);
        drop(s);
    }
    assert!(sent >= 3000, "only {sent} frames went out over {connections} connections");

    // A well-behaved client is still served.
    let mut s = connect(server.addr);
    send_frame(&mut s, &negotiate_request(0)).expect("send");
    let resp = read_frame(&mut s).expect("negotiate response after the storm");
    assert_eq!(&resp[..4], &[0xFE, b'S', b'M', b'B']);
    assert_eq!(status(&resp), 0, "NEGOTIATE must succeed");
    let dialect = u16::from_le_bytes([resp[64 + 4], resp[64 + 5]]);
    assert_eq!(dialect, 0x0210);
}

#[test]
fn second_negotiate_drops_the_connection() {
    let server = start("renegotiate");
    let mut s = connect(server.addr);
    send_frame(&mut s, &negotiate_request(0)).expect("send");
    assert!(read_frame(&mut s).is_some());
    send_frame(&mut s, &negotiate_request(1)).expect("send");
    assert!(read_frame(&mut s).is_none(), "a second NEGOTIATE must close the connection");
}

#[test]
fn message_id_outside_the_window_drops_the_connection() {
    let server = start("window");
    let mut s = connect(server.addr);
    send_frame(&mut s, &negotiate_request(5)).expect("send");
    assert!(read_frame(&mut s).is_none(), "message id 5 was never granted");
}
