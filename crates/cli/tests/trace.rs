//! The break trace, `opportune status --json` and the metrics endpoint against the real
//! binary over real connections (issue 12, items 2–5). Each client plays a station of its
//! own loopback address, so records can be checked for who held, who triggered and who
//! waited.

mod support;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::client::*;
use support::trace::Trace;

/// `opportune status` with `args` against the server at `addr`, parsed as JSON.
fn status_json(addr: SocketAddr, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["status", "--json", "--listen", &addr.to_string()])
        .args(args)
        .output()
        .expect("run status");
    assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status JSON: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn station(n: u8, addr: SocketAddr) -> Client {
    Client::connect_from(&format!("127.0.0.{n}"), addr, "user", "pass", "share").expect("station connects")
}

fn ip_of(v: &Value) -> String {
    v.as_str().and_then(|a| a.parse::<SocketAddr>().ok()).map(|a| a.ip().to_string()).unwrap_or_default()
}

/// Seed 003's illustration of Level II oplocks, nine steps, as the trace records it.
#[test]
fn the_level_ii_walk_through_is_traced_step_by_step() {
    let s = support::start("trace-level2");
    let mut trace = Trace::start(&["--listen", &s.addr.to_string()]);
    // 1–2. Station 1 opens the file asking for an oplock; nobody else has it open.
    let mut st1 = station(11, s.addr);
    let (fid1, level) = st1.create("mail.mmf", GENERIC_ALL, OPLOCK_BATCH).expect("station 1 opens");
    assert_eq!(level, OPLOCK_BATCH);
    // 3. Station 2 opens the file asking for an oplock.
    let mut st2 = station(12, s.addr);
    let mid = st2.send_create("mail.mmf", GENERIC_ALL, OPLOCK_BATCH);
    // 4. The server asks station 1 to break to Level II; meanwhile status shows the wait.
    let (fid, to) = st1.next_break(Duration::from_secs(5)).expect("station 1 is asked to break");
    assert_eq!((fid.0, to), (fid1.0, OPLOCK_LEVEL_II));
    let during = status_json(s.addr, &[]);
    let pending = &during["pending_breaks"][0];
    assert_eq!(pending["holder"]["kind"], "oplock", "{during}");
    assert_eq!(pending["waiters"][0]["result"], "waiting", "{during}");
    assert!(pending["age_ms"].is_u64(), "{during}");
    std::thread::sleep(Duration::from_millis(100));
    // 5–6. Station 1 flushes and acknowledges the break to Level II.
    assert_eq!(st1.ack_break(fid1, OPLOCK_LEVEL_II), STATUS_SUCCESS);
    // 7. The server answers station 2's open with Level II.
    let r = st2.wait(mid, Duration::from_secs(5)).expect("station 2's open is answered");
    let (fid2, level) = Client::created(&r).expect("station 2 opens");
    assert_eq!(level, OPLOCK_LEVEL_II);
    // 8. Station 2 writes; the server answers.
    assert_eq!(st2.write(fid2, 0, b"new mail"), STATUS_SUCCESS);
    // 9. Every station with the file open (the writer too) is told to break to none;
    // nobody acknowledges.
    let (_, to) = st1.next_break(Duration::from_secs(5)).expect("station 1 is told to break to none");
    assert_eq!(to, OPLOCK_NONE);
    let (_, to) = st2.next_break(Duration::from_secs(5)).expect("station 2 is told to break to none");
    assert_eq!(to, OPLOCK_NONE);

    let records = trace.take(3, Duration::from_secs(5));
    assert_eq!(records.len(), 3, "three breaks traced: {records:?}");
    let first = &records[0];
    let second = records[1..].iter().find(|r| ip_of(&r["holder"]["address"]) == "127.0.0.11").expect("station 1's break to none");
    let third = records[1..].iter().find(|r| ip_of(&r["holder"]["address"]) == "127.0.0.12").expect("station 2's break to none");
    // The break to Level II: held by station 1, triggered by station 2's open, acknowledged.
    assert_eq!(first["share"], "share");
    assert_eq!(first["path"], "mail.mmf");
    assert_eq!(first["holder"]["kind"], "oplock");
    assert_eq!(ip_of(&first["holder"]["address"]), "127.0.0.11");
    assert_eq!(first["holder"]["user"], "user");
    assert!(first["holder"]["client_guid"].is_string(), "{first}");
    assert_eq!((first["from"].as_str(), first["to"].as_str()), (Some("batch"), Some("level2")));
    assert_eq!(first["ack_required"], true);
    assert_eq!(first["trigger"]["cause"], "open");
    assert_eq!(ip_of(&first["trigger"]["by"]["address"]), "127.0.0.12");
    assert_eq!(first["outcome"], "acknowledged");
    let (sent, acked) = (first["sent_ms"].as_u64().unwrap(), first["acknowledged_ms"].as_u64().expect("ack time"));
    assert!(acked >= sent + 100, "acknowledged {acked} after sent {sent}");
    let waiter = &first["waiters"][0];
    assert_eq!(waiter["request"], "create");
    assert_eq!(ip_of(&waiter["address"]), "127.0.0.12");
    assert_eq!(waiter["result"], "STATUS_SUCCESS");
    assert!(waiter["waited_ms"].as_u64().unwrap() >= 100, "{waiter}");
    // The break to none: in force when sent, triggered by station 2's write.
    assert_eq!(ip_of(&second["holder"]["address"]), "127.0.0.11");
    assert_eq!((second["from"].as_str(), second["to"].as_str()), (Some("level2"), Some("none")));
    assert_eq!(second["ack_required"], false);
    assert_eq!(second["trigger"]["cause"], "write");
    assert_eq!(ip_of(&second["trigger"]["by"]["address"]), "127.0.0.12");
    assert_eq!(second["outcome"], "no-ack-needed");
    assert_eq!(second["waiters"].as_array().map(Vec::len), Some(0));
    assert!(second["id"].as_u64() > first["id"].as_u64());
    assert_eq!((third["from"].as_str(), third["to"].as_str(), third["outcome"].as_str()), (Some("level2"), Some("none"), Some("no-ack-needed")));
    assert_eq!(third["trigger"]["cause"], "write");

    // The same records stay in the history that `status --breaks` shows.
    let after = status_json(s.addr, &["--breaks"]);
    let kept = after["breaks"].as_array().expect("breaks listed");
    assert_eq!(kept.len(), 3, "{after}");
    assert_eq!(kept[0]["id"], first["id"]);
    assert_eq!(after["pending_breaks"].as_array().map(Vec::len), Some(0));
    let text = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["status", "--breaks", "--listen", &s.addr.to_string()])
        .output()
        .expect("status text");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Recent breaks: 3") && text.contains("batch -> level2"), "{text}");
}

#[test]
fn a_break_the_holder_ignores_is_traced_as_timed_out() {
    let config = "oplock_break_timeout_secs = 1\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let s = support::start_with("trace-timeout", Some(config));
    let mut trace = Trace::start(&["--listen", &s.addr.to_string()]);
    let mut holder = station(21, s.addr);
    holder.create("slow.db", GENERIC_ALL, OPLOCK_BATCH).expect("holder opens");
    let mut other = station(22, s.addr);
    let t0 = Instant::now();
    let mid = other.send_create("slow.db", GENERIC_ALL, OPLOCK_NONE);
    let r = other.wait(mid, Duration::from_secs(10)).expect("the open is answered after the timeout");
    Client::created(&r).expect("the open succeeds without the holder");
    assert!(t0.elapsed() >= Duration::from_millis(900));
    let rec = trace.next(Duration::from_secs(5)).expect("a record");
    assert_eq!(rec["outcome"], "timed-out", "{rec}");
    let (sent, out) = (rec["sent_ms"].as_u64().unwrap(), rec["timed_out_ms"].as_u64().expect("timed-out time"));
    assert!(out >= sent + 900, "timed out {out} after sent {sent}");
    assert_eq!(ip_of(&rec["holder"]["address"]), "127.0.0.21");
    assert_eq!(rec["waiters"][0]["result"], "STATUS_SUCCESS");
    assert!(rec["waiters"][0]["waited_ms"].as_u64().unwrap() >= 900, "{rec}");
    assert!(rec.get("acknowledged_ms").is_none(), "{rec}");
}

#[test]
fn status_json_shows_connections_share_modes_and_byte_range_locks() {
    let s = support::start("status-json");
    let mut c = station(31, s.addr);
    let (fid, _) = c.create("ledger.dat", GENERIC_ALL, OPLOCK_NONE).expect("open");
    assert_eq!(c.lock(fid, 100, 10), STATUS_SUCCESS);
    let v = status_json(s.addr, &[]);
    assert_eq!(v["schema"], "opportune-status/1");
    let lock = &v["byte_range_locks"][0];
    assert_eq!((lock["offset"].as_u64(), lock["length"].as_u64(), lock["exclusive"].as_bool()), (Some(100), Some(10), Some(true)), "{v}");
    assert_eq!(lock["path"], "ledger.dat");
    assert_eq!(ip_of(&lock["client"]), "127.0.0.31");
    let open = v["opens"].as_array().unwrap().iter().find(|o| o["path"] == "ledger.dat").expect("open listed").clone();
    assert_eq!(open["share_access"].as_u64(), Some(u64::from(SHARE_ALL)), "{open}");
    assert!(open["access"].as_u64().unwrap() != 0);
    assert_eq!(open["user"], "user");
    let conn = v["connections"].as_array().unwrap().iter().find(|c| ip_of(&c["peer"]) == "127.0.0.31").expect("connection").clone();
    assert_eq!(conn["opens"].as_u64(), Some(1), "{conn}");
    assert!(conn["tcp"]["rtt_us"].is_u64(), "TCP_INFO figures: {conn}");
    assert_eq!(conn["link_guard"], "ok");
    assert_eq!(conn["liveness"], "idle keepalive");
    assert_eq!(conn["dialect"], "2.1.0");
    let text = Command::new(env!("CARGO_BIN_EXE_opportune")).args(["status", "--listen", &s.addr.to_string()]).output().expect("text");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Byte-range locks: 1") && text.contains("exclusive"), "{text}");
    assert!(text.lines().any(|l| l.contains("ledger.dat") && l.contains("RWD")), "{text}");
}

/// GET /metrics from the exporter at `addr`.
fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("metrics listener");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("metrics response");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

#[test]
fn the_metrics_endpoint_counts_breaks_opens_and_bytes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let maddr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let s = support::start_args("metrics", None, &["--metrics", &maddr.to_string()]);
    let mut a = station(41, s.addr);
    let (fid, _) = a.create("m.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open");
    assert_eq!(a.write(fid, 0, &[7u8; 1000]), STATUS_SUCCESS);
    let mut b = station(42, s.addr);
    let mid = b.send_create("m.txt", GENERIC_ALL, OPLOCK_NONE);
    a.next_break(Duration::from_secs(5)).expect("break");
    assert_eq!(a.ack_break(fid, OPLOCK_LEVEL_II), STATUS_SUCCESS);
    b.wait(mid, Duration::from_secs(5)).expect("answered");
    assert_eq!(b.create("nodir\\x", READ_ATTRS_ONLY, OPLOCK_NONE).err(), Some(0xC000_003A), "path not found");
    let body = scrape(maddr);
    for want in [
        "opportune_breaks_total{kind=\"oplock\",outcome=\"acknowledged\"} 1",
        "opportune_opens_total{share=\"share\"} 2",
        "opportune_written_bytes_total{share=\"share\"} 1000",
        "opportune_logons_total{result=\"success\"} 2",
        "opportune_connections 2",
        "opportune_sessions 2",
        "opportune_open_files 2",
        "opportune_deferred_create_wait_seconds_count 1",
        "opportune_break_ack_seconds_bucket{kind=\"oplock\",le=\"+Inf\"} 1",
        "opportune_errors_total{status=\"STATUS_OBJECT_PATH_NOT_FOUND\"} 1",
    ] {
        assert!(body.lines().any(|l| l == want), "no line {want:?} in\n{body}");
    }
    match Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(mut p) => {
            p.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
            let out = p.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(e) => eprintln!("promtool not available ({e}); format check skipped"),
    }
}
