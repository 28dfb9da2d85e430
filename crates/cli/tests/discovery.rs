//! Discovery against the release binary, inside a network namespace of this test's own
//! (named after the process id) that has nothing but its loopback, made multicast-capable,
//! with a routable-looking address on it: python-zeroconf browses `_smb._tcp` and
//! resolves the instance to the server's address and port, and reads the
//! `_device-info._tcp` model; a WS-Discovery Probe (Windows' own text) gets a ProbeMatch
//! whose XAddrs answer the metadata Get with the computer and workgroup; on SIGTERM the
//! mDNS goodbye (TTL 0) and the WS-Discovery Bye go out. Needs root, `ip` and Python's zeroconf module
//! (scripts/install-deps); elsewhere the test prints why and returns. The namespace is
//! deleted on drop, also when an assertion fails.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 4445;
const NAME: &str = "DISCO-TEST";

fn unavailable() -> Option<String> {
    let euid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if euid.ok() != Some(0) {
        return Some("needs root (network namespaces)".into());
    }
    if !Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success()) {
        return Some("needs the `ip` command (iproute2)".into());
    }
    let zc = Command::new("python3").args(["-c", "import zeroconf"]).output();
    if !zc.is_ok_and(|o| o.status.success()) {
        return Some("needs python3 with the zeroconf module (scripts/install-deps)".into());
    }
    None
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A namespace with only `lo` (up, multicast on, `addr`/32, the multicast route).
struct Netns {
    name: String,
    addr: String,
}

impl Netns {
    /// `tag` tells apart the namespaces of this process's tests (they run in parallel).
    fn create(tag: &str) -> Result<Netns, String> {
        let pid = std::process::id();
        let ns = Netns {
            name: format!("opportune-disco-{pid}-{tag}"),
            addr: format!("10.233.{}.{}", (pid >> 8) & 0xFF, (pid & 0xFF).max(1)),
        };
        let _ = ip(&["netns", "del", &ns.name]);
        ip(&["netns", "add", &ns.name])?;
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns.name, "link", "set", "lo", "multicast", "on"])?;
        ip(&["-n", &ns.name, "addr", "add", &format!("{}/32", ns.addr), "dev", "lo"])?;
        ip(&["-n", &ns.name, "route", "add", "224.0.0.0/4", "dev", "lo"])?;
        Ok(ns)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs a Python script inside the namespace; its standard output.
    fn python(&self, script: &str, args: &[&str]) -> Result<String, String> {
        let out = self.command("python3").arg("-c").arg(script).args(args).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("python: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// The server inside the namespace; killed on drop.
struct Server {
    child: Child,
    dir: std::path::PathBuf,
}

impl Server {
    /// The server listening on `ip`, once it says so.
    fn start(ns: &Netns, ip: &str) -> Server {
        let dir = std::env::temp_dir().join(&ns.name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("share")).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{}:{PORT}\"\nserver_name = \"{NAME}\"\nstatus_socket = \"\"\nstate_dir = \"\"\nmodel = \"Xserve\"\nworkgroup = \"HOME\"\n\
                 [[share]]\nname = \"s\"\npath = \"{}\"\n[[user]]\nname = \"u\"\npassword = \"p\"\n",
                ip,
                dir.join("share").display()
            ),
        )
        .unwrap();
        let child = ns
            .command(env!("CARGO_BIN_EXE_opportune"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .expect("start the server");
        let mut s = Server { child, dir };
        s.wait_for("opportune listening on");
        s
    }

    /// What the server wrote to standard error so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Reads standard output until a line contains `what`.
    fn wait_for(&mut self, what: &str) {
        let mut err = self.child.stdout.take().expect("stdout");
        let what = what.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 512];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&seen).contains(&what) {
                    let _ = tx.send(Ok(()));
                }
            }
            let _ = tx.send(Err(String::from_utf8_lossy(&seen).into_owned()));
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(out)) => panic!("server ended: {out}{}", self.log()),
            Err(_) => panic!("server did not start in time: {}", self.log()),
        }
    }

    /// SIGTERM, then the exit.
    fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Browses `_smb._tcp`, resolves the first instance, asks for its `_device-info._tcp`
/// TXT with a legacy unicast query; prints what it found as one JSON line.
const BROWSE: &str = r#"
import json, socket, sys, time
import zeroconf
from zeroconf import DNSIncoming, DNSOutgoing, DNSQuestion
addr = sys.argv[1]
zc = zeroconf.Zeroconf(interfaces=[addr])
found = []
class Listener:
    def add_service(self, zc, type_, name): found.append(name)
    def update_service(self, zc, type_, name): pass
    def remove_service(self, zc, type_, name): pass
browser = zeroconf.ServiceBrowser(zc, "_smb._tcp.local.", Listener())
deadline = time.time() + 10
while not found and time.time() < deadline:
    time.sleep(0.05)
if not found:
    sys.exit("no _smb._tcp instance found")
info = zc.get_service_info("_smb._tcp.local.", found[0], timeout=5000)
if info is None:
    sys.exit("instance did not resolve")
# A legacy unicast query (from an ephemeral port) for the device-info TXT record.
instance = found[0][: -len("._smb._tcp.local.")]
q = DNSOutgoing(0)
q.add_question(DNSQuestion(instance + "._device-info._tcp.local.", 16, 1))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
s.settimeout(5)
s.sendto(q.packets()[0], ("224.0.0.251", 5353))
txt = []
try:
    data, _ = s.recvfrom(9000)
    for r in DNSIncoming(data).answers():
        if r.type == 16:
            txt.append(r.text.decode(errors="replace"))
except socket.timeout:
    pass
print(json.dumps({"name": found[0], "server": info.server, "port": info.port,
                  "addresses": info.parsed_addresses(), "device_info": txt}))
zc.close()
"#;

/// Sends Windows' Probe (argv[2], with a fresh MessageID) from the namespace's address,
/// reads the ProbeMatch, POSTs the WS-Transfer Get to its XAddrs; prints one JSON line.
const PROBE: &str = r#"
import json, socket, sys, uuid, urllib.request
import xml.etree.ElementTree as ET
addr, probe = sys.argv[1], open(sys.argv[2]).read()
mid = "urn:uuid:" + str(uuid.uuid4())
probe = probe.replace("urn:uuid:256ad815-1576-4e59-8efc-4c1e0f15fdd2", mid)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
s.settimeout(5)
s.sendto(probe.encode(), ("239.255.255.250", 3702))
data, sender = s.recvfrom(65536)
ns = {"soap": "http://www.w3.org/2003/05/soap-envelope", "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
      "wsd": "http://schemas.xmlsoap.org/ws/2005/04/discovery", "pub": "http://schemas.microsoft.com/windows/pub/2005/07"}
root = ET.fromstring(data)
m = root.find("soap:Body/wsd:ProbeMatches/wsd:ProbeMatch", ns)
xaddrs = m.find("wsd:XAddrs", ns).text
endpoint = m.find("wsa:EndpointReference/wsa:Address", ns).text
get = ('<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
       '<soap:Header><wsa:To>%s</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</wsa:Action>'
       '<wsa:MessageID>urn:uuid:%s</wsa:MessageID></soap:Header><soap:Body/></soap:Envelope>') % (endpoint, uuid.uuid4())
req = urllib.request.Request(xaddrs, data=get.encode(), headers={"Content-Type": "application/soap+xml"})
meta = ET.fromstring(urllib.request.urlopen(req, timeout=5).read())
print(json.dumps({"sender": sender[0], "action": root.find("soap:Header/wsa:Action", ns).text,
                  "relates_to": root.find("soap:Header/wsa:RelatesTo", ns).text, "expected": mid,
                  "types": m.find("wsd:Types", ns).text, "xaddrs": xaddrs, "endpoint": endpoint,
                  "computer": meta.find(".//pub:Computer", ns).text}))
"#;

/// Joins both groups on the namespace's address, says "ready", then collects for 4 s:
/// prints whether an mDNS response with every TTL 0 and a WS-Discovery Bye arrived.
const GOODBYES: &str = r#"
import json, socket, struct, sys, time
from zeroconf import DNSIncoming
addr = sys.argv[1]
def group(g, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((g, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(g) + socket.inet_aton(addr))
    s.setblocking(False)
    return s
m, w = group("224.0.0.251", 5353), group("239.255.255.250", 3702)
print("ready", flush=True)
goodbye = bye = False
end = time.time() + 4
while time.time() < end and not (goodbye and bye):
    for s in (m, w):
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        if s is m:
            msg = DNSIncoming(data)
            if msg.is_response() and msg.answers() and all(r.ttl == 0 for r in msg.answers()):
                goodbye = True
        elif b"/discovery/Bye</" in data:
            bye = True
    time.sleep(0.02)
print(json.dumps({"goodbye": goodbye, "bye": bye}))
"#;

#[test]
fn mdns_and_ws_discovery_find_the_server_inside_a_namespace() {
    if let Some(why) = unavailable() {
        eprintln!("skipping discovery test: {why}");
        return;
    }
    let ns = Netns::create("on").expect("namespace");
    let mut server = Server::start(&ns, &ns.addr);
    let out = ns.python(BROWSE, &[&ns.addr]).expect("browse");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("zeroconf saw: {v}");
    assert_eq!(v["name"], format!("{NAME}._smb._tcp.local."), "{v}");
    assert_eq!(v["server"], "disco-test.local.", "{v}");
    assert_eq!(v["port"], PORT, "{v}");
    assert_eq!(v["addresses"], serde_json::json!([ns.addr]), "{v}");
    // The device-info TXT has the model string; zeroconf hands the raw record data.
    let txt = v["device_info"].to_string();
    assert!(txt.contains("model=Xserve"), "{v}");
    assert!(server.log().contains(&format!("announcing {NAME} on {} (mDNS, WS-Discovery)", ns.addr)), "{}", server.log());

    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../discovery/tests/data/windows-probe.xml");
    let out = ns.python(PROBE, &[&ns.addr, fixture]).expect("probe");
    let w: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("WS-Discovery saw: {w}");
    assert_eq!(w["sender"], ns.addr, "{w}");
    assert_eq!(w["action"], "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches", "{w}");
    assert_eq!(w["relates_to"], w["expected"], "{w}");
    assert_eq!(w["types"], "wsdp:Device pub:Computer", "{w}");
    let endpoint = w["endpoint"].as_str().unwrap();
    assert_eq!(w["xaddrs"], format!("http://{}:5357/{}", ns.addr, &endpoint["urn:uuid:".len()..]), "{w}");
    assert_eq!(w["computer"], format!("{NAME}/Workgroup:HOME"), "{w}");

    let mut listener = ns
        .command("python3")
        .arg("-c")
        .arg(GOODBYES)
        .arg(&ns.addr)
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener");
    let mut stdout = std::io::BufReader::new(listener.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    server.stop();
    line.clear();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let _ = listener.wait();
    let g: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(g, serde_json::json!({"goodbye": true, "bye": true}));
}

/// From the namespace's loopback address: a WS-Discovery Probe and a legacy mDNS query
/// for `_smb._tcp`; prints what answered within 1.5 s.
const ASK_LOOPBACK: &str = r#"
import json, socket, sys, time
from zeroconf import DNSOutgoing, DNSQuestion
probe = open(sys.argv[1]).read()
def ask(packet, group, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.settimeout(1.5)
    s.sendto(packet, (group, port))
    try:
        s.recvfrom(65536)
        return True
    except socket.timeout:
        return False
q = DNSOutgoing(0)
q.add_question(DNSQuestion("_smb._tcp.local.", 12, 1))
print(json.dumps({"wsd": ask(probe.encode(), "239.255.255.250", 3702), "mdns": ask(q.packets()[0], "224.0.0.251", 5353)}))
"#;

#[test]
fn a_server_on_loopback_announces_nothing_by_default() {
    if let Some(why) = unavailable() {
        eprintln!("skipping discovery test: {why}");
        return;
    }
    let ns = Netns::create("lo").expect("namespace");
    let mut server = Server::start(&ns, "127.0.0.1");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../discovery/tests/data/windows-probe.xml");
    let out = ns.python(ASK_LOOPBACK, &[fixture]).expect("ask");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v, serde_json::json!({"wsd": false, "mdns": false}));
    assert!(!server.log().contains("announcing"), "{}", server.log());
    server.stop();
}
