//! Starting the real binary on a free loopback port for integration tests, and a small
//! SMB 2.1 client to talk to it.

#![allow(dead_code)]

pub mod client;
pub mod trace;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub root: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_file(self.root.with_extension("toml"));
        let _ = std::fs::remove_dir_all(self.root.with_extension("state"));
        let _ = std::fs::remove_file(opportune_server::status::default_socket(self.addr));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Starts `opportune serve` with share "share" and user user:pass; waits until it accepts.
pub fn start(name: &str) -> Server {
    start_with(name, None)
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory in KiB (VmRSS), read from /proc.
    pub fn rss_kib(&self) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        text.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// The server's open descriptors, counted in /proc.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map(|d| d.count()).unwrap_or(0)
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// A TCP connection to `addr` from the loopback address `from` (e.g. "127.0.0.2"), so a
/// test can play several client hosts.
pub fn connect_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let local: SocketAddr = format!("{from}:0").parse().expect("loopback address");
    sock.bind(&local.into())?;
    sock.connect_timeout(&addr.into(), Duration::from_secs(5))?;
    let s: TcpStream = sock.into();
    s.set_nodelay(true)?;
    Ok(s)
}

/// A listener on `host`:445, for Samba tools that only connect to port 445 (smbcacls,
/// smbcquotas); None, with a note, where the port cannot be bound (not root): the test
/// is skipped.
pub fn bind_445(host: &str) -> Option<TcpListener> {
    match TcpListener::bind((host, 445)) {
        Ok(l) => Some(l),
        Err(_) => {
            eprintln!("skipped: cannot listen on {host}:445 (not root?)");
            None
        }
    }
}

/// Forwards every connection `listener` accepts to `to`, both ways, on threads of their
/// own, for as long as the test runs.
pub fn forward(listener: TcpListener, to: SocketAddr) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let Ok(up) = TcpStream::connect(to) else { continue };
            let (mut a, mut b) = (conn.try_clone().expect("clone"), up.try_clone().expect("clone"));
            std::thread::spawn(move || std::io::copy(&mut a, &mut b).map(|_| b.shutdown(std::net::Shutdown::Write)));
            let (mut up, mut conn) = (up, conn);
            std::thread::spawn(move || std::io::copy(&mut up, &mut conn).map(|_| conn.shutdown(std::net::Shutdown::Write)));
        }
    });
}

/// Like `start`, with a TOML config file whose text is `config` (its share "share" must
/// point at `{root}`, which is replaced by the share directory).
pub fn start_with(name: &str, config: Option<&str>) -> Server {
    start_args(name, config, &[])
}

/// Like `start_with`, with more command-line arguments for `serve`.
pub fn start_args(name: &str, config: Option<&str>, extra: &[&str]) -> Server {
    launch(Command::new(env!("CARGO_BIN_EXE_opportune")), name, config, extra)
}

/// Runs `cmd` (the server binary, or a wrapper that execs it) with `serve` and the test
/// share and user, and waits until the server accepts.
pub fn launch(mut cmd: Command, name: &str, config: Option<&str>, extra: &[&str]) -> Server {
    let root = std::env::temp_dir().join(format!("opportune-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("share dir");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    cmd.args(["serve", "--listen", &addr.to_string(), "--user", "user:pass"]);
    cmd.args(extra);
    // The server's state (domain SID) stays beside the share, not in /var/lib/opportune
    // or ~/.local/state, unless the test chooses a state directory itself.
    if !extra.contains(&"--state-dir") && !config.is_some_and(|c| c.contains("state_dir")) {
        cmd.arg("--state-dir").arg(root.with_extension("state"));
    }
    match config {
        Some(text) => {
            let file = root.with_extension("toml");
            std::fs::write(&file, text.replace("{root}", &root.display().to_string())).expect("config file");
            cmd.arg("--config").arg(file);
        }
        None => {
            cmd.arg("--share").arg(format!("share={}", root.display()));
        }
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn opportune");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines.read_line(&mut first).expect("startup line");
    assert!(first.contains("listening"), "unexpected startup line {first:?}");
    // Keep draining standard output so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "server never accepted");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, addr, root }
}

/// Sends one direct-TCP frame.
pub fn send_frame(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = msg.len() as u32;
    let mut f = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    f.extend_from_slice(msg);
    s.write_all(&f)
}

/// Reads one frame; None on EOF or timeout.
pub fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).ok()?;
    let len = (usize::from(head[1]) << 16) | (usize::from(head[2]) << 8) | usize::from(head[3]);
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// A valid SMB2 NEGOTIATE request offering 2.0.2 and 2.1.
pub fn negotiate_request(message_id: u64) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&[0xFE, b'S', b'M', b'B', 64, 0, 0, 0]);
    m.extend_from_slice(&[0; 4]);
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&message_id.to_le_bytes());
    m.extend_from_slice(&[0; 4 + 4 + 8 + 16]);
    m.extend_from_slice(&negotiate_body(&[0x0202, 0x0210]));
    m
}

/// A NEGOTIATE request body offering `dialects`, signing enabled, no contexts.
pub fn negotiate_body(dialects: &[u16]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&[7; 16]);
    b.extend_from_slice(&[0; 8]);
    for d in dialects {
        b.extend_from_slice(&d.to_le_bytes());
    }
    b
}

/// NTSTATUS of a response message.
pub fn status(msg: &[u8]) -> u32 {
    u32::from_le_bytes([msg[8], msg[9], msg[10], msg[11]])
}

/// Like `start_with`, with the server run under `prlimit --nofile=N:N` (soft and hard
/// descriptor limit `nofile`); prlimit execs the server, so `pid()` is the server's.
pub fn start_with_nofile(name: &str, config: Option<&str>, nofile: u64) -> Server {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={nofile}:{nofile}")).arg("--").arg(env!("CARGO_BIN_EXE_opportune"));
    launch(cmd, name, config, &[])
}
