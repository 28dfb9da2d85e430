//! `opportune trace --json` run against a test server, its records read as JSON values.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Trace {
    child: Child,
    rx: mpsc::Receiver<serde_json::Value>,
}

impl Trace {
    /// Starts `opportune trace --json` with `socket_args` (`--listen ADDR` or `--socket
    /// PATH`) and waits until the server has subscribed it (its first line).
    pub fn start(socket_args: &[&str]) -> Trace {
        // The status socket is bound just after the SMB listener the test waited for:
        // try again until the server answers.
        for _ in 0..50 {
            let mut t = Trace::spawn(socket_args);
            match t.next(Duration::from_secs(2)) {
                Some(hello) => {
                    assert_eq!(hello["schema"], "opportune-trace/1", "{hello}");
                    return t;
                }
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        panic!("opportune trace never started");
    }

    fn spawn(socket_args: &[&str]) -> Trace {
        let mut child = Command::new(env!("CARGO_BIN_EXE_opportune"))
            .arg("trace")
            .arg("--json")
            .args(socket_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn opportune trace");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Trace { child, rx }
    }

    /// The next line, if one comes within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Every record that arrives within `timeout` or until `n` have arrived.
    pub fn take(&mut self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        out
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
