//! DCE/RPC over named pipes on IPC$ (issue 13, item 1), over real connections to the
//! release binary: Samba's `smbclient -L` and `rpcclient`, impacket and pysmb (when
//! installed),
//! and our own client for the pipe semantics and a flood of 10,000 malformed PDUs after
//! which the server still serves.

mod support;

use std::process::Command;

use opportune_rpc::ndr::{Reader, Writer};
use opportune_rpc::pdu::{self, pfc, ptype, Bind, BindAck, ContextElem, Header, SyntaxId, HEADER_LEN, NDR20};
use support::client::*;
use support::{start_with, Server};

const PIPE_TRANSCEIVE: u32 = 0x0011_C017;
const SRVSVC: SyntaxId = SyntaxId::new(0x4b32_4fc8, 0x1670, 0x01d3, [0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88], 3, 0);

/// Two shares with comments (one hidden, one open to guests), guest access on.
const CONFIG: &str = r#"
server_name = "RPCIT"
server_comment = "Opportune under test"
guest = true
[[share]]
name = "share"
path = "{root}"
comment = "The test share"
[[share]]
name = "hidden$"
path = "{root}"
comment = "Hidden but listed"
[[share]]
name = "public"
path = "{root}"
comment = "Open to guests"
guest_ok = true
"#;

fn server(name: &str) -> Server {
    start_with(name, Some(CONFIG))
}

/// Whether `program --version` runs.
fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Runs a Samba tool with an empty client configuration; its stdout and stderr.
fn samba_tool(s: &Server, program: &str, args: &[&str]) -> (bool, String) {
    let conf = s.root.with_extension(format!("{program}.conf"));
    std::fs::write(&conf, "[global]\n").expect("client config");
    let out = Command::new("timeout")
        .arg("60")
        .arg(program)
        .arg("-s")
        .arg(&conf)
        .args(args)
        .output()
        .expect("run samba tool");
    let _ = std::fs::remove_file(&conf);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The (name, type, comment) rows of `smbclient -L`.
fn listing(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let mut parts = l.split_whitespace();
            let (name, kind) = (parts.next()?, parts.next()?);
            matches!(kind, "Disk" | "IPC").then(|| {
                let after = &l[name.len()..];
                let comment = after[after.find(kind).map_or(0, |i| i + kind.len())..].trim().to_string();
                (name.to_string(), kind.to_string(), comment)
            })
        })
        .collect()
}

#[test]
fn smbclient_lists_shares_with_comments_and_types() {
    if !have("smbclient") {
        eprintln!("note: no smbclient; skipping");
        return;
    }
    let s = server("rpc-smbclient");
    let port = s.addr.port().to_string();
    let (ok, text) = samba_tool(&s, "smbclient", &["-L", "//127.0.0.1", "-p", &port, "-U", "user%pass"]);
    assert!(ok, "smbclient -L: {text}");
    let rows = listing(&text);
    let want = |n: &str, k: &str, c: &str| (n.to_string(), k.to_string(), c.to_string());
    assert_eq!(
        rows,
        [
            want("share", "Disk", "The test share"),
            want("hidden$", "Disk", "Hidden but listed"),
            want("public", "Disk", "Open to guests"),
            want("IPC$", "IPC", "Remote IPC"),
        ],
        "smbclient -L: {text}"
    );
    // An anonymous session sees the shares it may connect to: the guest one and IPC$.
    let (ok, text) = samba_tool(&s, "smbclient", &["-L", "//127.0.0.1", "-p", &port, "-N"]);
    assert!(ok, "smbclient -L -N: {text}");
    let names: Vec<String> = listing(&text).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["public", "IPC$"], "smbclient -L -N: {text}");
}

#[test]
fn rpcclient_commands_work() {
    if !have("rpcclient") {
        eprintln!("note: no rpcclient; skipping");
        return;
    }
    let s = server("rpc-rpcclient");
    let port = s.addr.port().to_string();
    let run = |cmds: &str| {
        let (ok, text) = samba_tool(&s, "rpcclient", &["-p", &port, "-U", "user%pass", "-c", cmds, "127.0.0.1"]);
        assert!(ok, "rpcclient {cmds}: {text}");
        assert!(!text.contains("NT_STATUS_") && !text.contains("WERR_"), "rpcclient {cmds}: {text}");
        text
    };
    let text = run("srvinfo");
    assert!(text.contains("RPCIT") && text.contains("Opportune under test") && text.contains("platform_id     :\t500"), "{text}");
    let text = run("netshareenumall");
    for n in ["netname: share", "netname: hidden$", "netname: public", "netname: IPC$", "remark:\tThe test share"] {
        assert!(text.contains(n), "netshareenumall lacks {n:?}: {text}");
    }
    let text = run("netsharegetinfo share");
    assert!(text.contains("netname: share") && text.contains("remark:\tThe test share") && text.contains("max_uses:\t-1"), "{text}");
    let text = run("lsaquery");
    assert!(text.contains("Domain Name: WORKGROUP"), "{text}");
    let text = run("lsaquery 5");
    let sid = text.lines().find_map(|l| l.strip_prefix("Domain Sid: ")).expect("a domain SID").trim().to_string();
    assert!(sid.starts_with("S-1-5-21-") && text.contains("Domain Name: RPCIT"), "{text}");
    let text = run("lookupnames user");
    let user_sid = text.split_whitespace().nth(1).expect("a SID").to_string();
    assert!(user_sid.starts_with(&format!("{sid}-")) && text.contains("(User: 1)"), "{text}");
    let text = run(&format!("lookupsids {user_sid} S-1-1-0 S-1-5-32-544 S-1-5-11"));
    for n in ["RPCIT\\user (1)", "\\Everyone (5)", "BUILTIN\\Administrators (4)", "NT AUTHORITY\\Authenticated Users (5)"] {
        assert!(text.contains(n), "lookupsids lacks {n:?}: {text}");
    }
    let text = run("lookupnames Everyone Users");
    assert!(text.contains("Everyone S-1-1-0") && text.contains("S-1-5-32-545"), "{text}");
    // A name nobody has is NONE_MAPPED, and rpcclient says so.
    let (_, text) = samba_tool(&s, "rpcclient", &["-p", &port, "-U", "user%pass", "-c", "lookupnames nobody", "127.0.0.1"]);
    assert!(text.contains("NT_STATUS_NONE_MAPPED"), "{text}");
}

#[test]
fn impacket_shares_and_info() {
    let have_module = Command::new("python3").args(["-c", "import impacket"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !have_module {
        eprintln!("note: impacket is not installed; skipping");
        return;
    }
    let s = server("rpc-impacket");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance/impacket_check.py");
    let out = Command::new("timeout")
        .args(["120", "python3", script, "--port", &s.addr.port().to_string(), "--user", "user", "--password", "pass"])
        .args(["--server-name", "RPCIT", "--share", "share=The test share", "--share", "hidden$=Hidden but listed"])
        .output()
        .expect("run python3");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "impacket check: {text}");
    assert!(text.contains("all checks passed"), "impacket check: {text}");
}

/// pysmb's `listShares` (SMB2 over direct TCP, srvsvc NetrShareEnum level 1).
const PYSMB_LIST: &str = r#"
import sys
from smb.SMBConnection import SMBConnection
c = SMBConnection("user", "pass", "client", "RPCIT", use_ntlm_v2=True, is_direct_tcp=True)
assert c.connect("127.0.0.1", int(sys.argv[1]))
for s in c.listShares():
    print(f"{s.name}|{s.type}|{s.comments}|{s.isSpecial}")
c.close()
"#;

#[test]
fn pysmb_list_shares() {
    let have_module = Command::new("python3").args(["-c", "import smb.SMBConnection"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !have_module {
        eprintln!("note: pysmb is not installed; skipping");
        return;
    }
    let s = server("rpc-pysmb");
    let out = Command::new("timeout")
        .args(["60", "python3", "-c", PYSMB_LIST, &s.addr.port().to_string()])
        .output()
        .expect("run python3");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pysmb: {text}");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        rows,
        ["share|0|The test share|False", "hidden$|0|Hidden but listed|False", "public|0|Open to guests|False", "IPC$|3|Remote IPC|True"],
        "pysmb: {text}"
    );
}

fn ioctl_body(fid: Fid, code: u32, input: &[u8], max_out: u32) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&57u16.to_le_bytes());
    b.extend_from_slice(&[0; 2]);
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&fid.0);
    b.extend_from_slice(&120u32.to_le_bytes());
    b.extend_from_slice(&(input.len() as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&max_out.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(input);
    b
}

/// FSCTL_PIPE_TRANSCEIVE: the status and the output.
fn transceive(c: &mut Client, fid: Fid, input: &[u8], max_out: u32) -> (u32, Vec<u8>) {
    let r = c.call(0x0B, ioctl_body(fid, PIPE_TRANSCEIVE, input, max_out));
    if r.status != STATUS_SUCCESS && r.status != STATUS_BUFFER_OVERFLOW {
        return (r.status, Vec::new());
    }
    let off = u32::from_le_bytes(r.body[32..36].try_into().unwrap()) as usize - 64;
    let n = u32::from_le_bytes(r.body[36..40].try_into().unwrap()) as usize;
    (r.status, r.body[off..off + n].to_vec())
}

/// READ on a pipe: the status and the data (also for STATUS_BUFFER_OVERFLOW).
fn pipe_read(c: &mut Client, fid: Fid, len: u32) -> (u32, Vec<u8>) {
    let r = c.call(8, read_body(fid, 0, len));
    if r.status != STATUS_SUCCESS && r.status != STATUS_BUFFER_OVERFLOW {
        return (r.status, Vec::new());
    }
    let off = usize::from(r.body[2]) - 64;
    let n = u32::from_le_bytes(r.body[4..8].try_into().unwrap()) as usize;
    (r.status, r.body[off..off + n].to_vec())
}

fn bind_pdu(call_id: u32) -> Vec<u8> {
    let b = Bind {
        max_xmit_frag: 4280,
        max_recv_frag: 4280,
        assoc_group: 0,
        contexts: vec![ContextElem { id: 0, abstract_syntax: SRVSVC, transfer: vec![NDR20] }],
    };
    pdu::encode(ptype::BIND, pfc::FIRST_FRAG | pfc::LAST_FRAG, call_id, &b.encode()).unwrap()
}

/// NetrShareEnum level 1 as one request PDU.
fn share_enum_pdu(call_id: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.pointer(false);
    w.u32(1);
    w.u32(1);
    w.pointer(true);
    w.u32(0);
    w.pointer(false);
    w.u32(u32::MAX);
    w.pointer(false);
    let req = pdu::Request { alloc_hint: w.buf.len() as u32, context_id: 0, opnum: 15, object: None, stub: &w.buf };
    pdu::encode(ptype::REQUEST, pfc::FIRST_FRAG | pfc::LAST_FRAG, call_id, &req.encode()).unwrap()
}

/// The share names of a NetrShareEnum level 1 response fragment.
fn share_names(frag: &[u8]) -> Vec<String> {
    let h = Header::decode(frag).expect("a fragment");
    assert_eq!(h.ptype, ptype::RESPONSE);
    let stub = pdu::decode_response(&frag[HEADER_LEN..]).unwrap().2;
    let mut r = Reader::new(stub);
    r.take(12).unwrap();
    let n = r.u32().unwrap();
    r.pointer().unwrap();
    r.u32().unwrap();
    for _ in 0..n {
        r.take(12).unwrap();
    }
    (0..n).map(|_| {
        let name = r.wstring().unwrap();
        r.wstring().unwrap();
        name
    }).collect()
}

/// Opens srvsvc, binds and lists the shares with a transceive.
fn list_over_pipe(c: &mut Client) -> Vec<String> {
    let (fid, _) = c.create("srvsvc", 0x0012_019F, OPLOCK_NONE).expect("open srvsvc");
    let (st, out) = transceive(c, fid, &bind_pdu(1), 4280);
    assert_eq!(st, STATUS_SUCCESS);
    let ack = BindAck::decode(&out[HEADER_LEN..]).expect("bind_ack");
    assert_eq!(ack.results[0].result, 0);
    let (st, out) = transceive(c, fid, &share_enum_pdu(2), 4280);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(c.close(fid), STATUS_SUCCESS);
    share_names(&out)
}

#[test]
fn pipes_open_read_write_and_close_like_windows() {
    let s = server("rpc-pipe-semantics");
    let mut c = Client::connect(s.addr, "user", "pass", "IPC$");
    for name in ["samr", "srvsvc\\x", "nonexistent"] {
        assert_eq!(c.create(name, 0x0012_019F, OPLOCK_NONE).err(), Some(STATUS_OBJECT_NAME_NOT_FOUND), "{name}");
    }
    assert_eq!(list_over_pipe(&mut c), ["share", "hidden$", "public", "IPC$"]);
    // \SRVSVC in another case, WRITE then READ in pieces.
    let (fid, _) = c.create("\\SRVSVC", 0x0012_019F, OPLOCK_NONE).expect("open \\SRVSVC");
    assert_eq!(pipe_read(&mut c, fid, 1024).0, STATUS_PIPE_EMPTY);
    assert_eq!(c.write(fid, 0, &bind_pdu(1)), STATUS_SUCCESS);
    let (st, ack) = pipe_read(&mut c, fid, 4280);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(Header::decode(&ack).unwrap().ptype, ptype::BIND_ACK);
    assert_eq!(c.write(fid, 0, &share_enum_pdu(2)), STATUS_SUCCESS);
    let (st, head) = pipe_read(&mut c, fid, 40);
    assert_eq!((st, head.len()), (STATUS_BUFFER_OVERFLOW, 40));
    let (st, rest) = pipe_read(&mut c, fid, 4280);
    assert_eq!(st, STATUS_SUCCESS);
    let whole = [head, rest].concat();
    assert_eq!(share_names(&whole), ["share", "hidden$", "public", "IPC$"]);
    // FileStandardInformation: a pipe, not a directory.
    let mut q = vec![];
    q.extend_from_slice(&41u16.to_le_bytes());
    q.extend_from_slice(&[1, 5]);
    q.extend_from_slice(&256u32.to_le_bytes());
    q.extend_from_slice(&[0; 16]);
    q.extend_from_slice(&fid.0);
    let r = c.call(0x10, q);
    assert_eq!(r.status, STATUS_SUCCESS);
    assert_eq!(u32::from_le_bytes(r.body[4..8].try_into().unwrap()), 24);
    assert_eq!(r.body[8 + 21], 0, "not a directory");
    assert_eq!(c.close(fid), STATUS_SUCCESS);
    assert_eq!(c.write(fid, 0, &bind_pdu(1)), STATUS_FILE_CLOSED);
}

/// xorshift64*, for reproducible malformed PDUs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A malformed PDU: a valid bind or request with bytes flipped, its header fields set
/// to edge values, cut short, grown, or random bytes.
fn malformed(rng: &mut Rng, i: u32) -> Vec<u8> {
    let mut p = if rng.below(2) == 0 { bind_pdu(i) } else { share_enum_pdu(i) };
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(p.len());
                p[at] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let at = [0usize, 1, 2, 3, 4, 8, 10, 16, 20, 22, 24][rng.below(11)].min(p.len() - 2);
            let v = [0u16, 1, 0xFF, 0x7FFF, 0xFFFF, 15, 16][rng.below(7)];
            p[at..at + 2].copy_from_slice(&v.to_le_bytes());
        }
        2 => p.truncate(rng.below(p.len())),
        3 => {
            let n = 1 + rng.below(200);
            p.extend((0..n).map(|_| rng.next() as u8));
        }
        4 => {
            // A stub whose counts and pointers are garbage, in a well-formed PDU.
            let stub: Vec<u8> = (0..rng.below(120)).map(|_| rng.next() as u8).collect();
            let req = pdu::Request { alloc_hint: 0, context_id: 0, opnum: [15u16, 16, 21, 0, 999][rng.below(5)], object: None, stub: &stub };
            p = pdu::encode(ptype::REQUEST, 3, i, &req.encode()).unwrap();
        }
        _ => p = (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect(),
    }
    if p.is_empty() {
        p.push(0xFF);
    }
    p
}

#[test]
fn ten_thousand_malformed_pdus_leave_the_server_serving() {
    let s = server("rpc-flood");
    let mut c = Client::connect(s.addr, "user", "pass", "IPC$");
    let (fid, _) = c.create("srvsvc", 0x0012_019F, OPLOCK_NONE).expect("open srvsvc");
    let (st, _) = transceive(&mut c, fid, &bind_pdu(1), 4280);
    assert_eq!(st, STATUS_SUCCESS);
    let mut rng = Rng(0x5EED_0013);
    let mut answered = 0u32;
    for i in 0..10_000u32 {
        let p = malformed(&mut rng, i);
        let status = if i % 2 == 0 {
            c.write(fid, 0, &p)
        } else {
            let (st, out) = transceive(&mut c, fid, &p, 4280);
            if !out.is_empty() {
                assert!(out.len() >= HEADER_LEN && out[0] == 5, "an RPC fragment for PDU {i}");
                answered += 1;
            }
            st
        };
        // Every PDU is taken; answers are faults, bind_naks or responses, read back here.
        assert!(
            matches!(status, STATUS_SUCCESS | STATUS_BUFFER_OVERFLOW | 0xC000_00AE),
            "PDU {i} ({} bytes): status {status:#x}",
            p.len()
        );
        loop {
            let (st, data) = pipe_read(&mut c, fid, 4280);
            if st == STATUS_PIPE_EMPTY {
                break;
            }
            assert!(matches!(st, STATUS_SUCCESS | STATUS_BUFFER_OVERFLOW), "read after PDU {i}: {st:#x}");
            assert!(data.len() >= HEADER_LEN && data[0] == 5, "an RPC fragment after PDU {i}");
            answered += 1;
        }
    }
    assert!(answered > 3000, "only {answered} answers");
    assert_eq!(c.close(fid), STATUS_SUCCESS);
    // The same connection opens a new pipe and lists shares; so does a new connection.
    assert_eq!(list_over_pipe(&mut c), ["share", "hidden$", "public", "IPC$"]);
    let mut other = Client::connect(s.addr, "user", "pass", "IPC$");
    assert_eq!(list_over_pipe(&mut other), ["share", "hidden$", "public", "IPC$"]);
    let mut disk = Client::connect(s.addr, "user", "pass", "share");
    let (f, _) = disk.create("after-flood.txt", GENERIC_ALL, OPLOCK_NONE).expect("create on the share");
    assert_eq!(disk.write(f, 0, b"still serving"), STATUS_SUCCESS);
    assert_eq!(disk.read_data(f, 0, 64), (STATUS_SUCCESS, b"still serving".to_vec()));
}
