//! Bounded stable-toolchain fuzzing of what discovery parses from the network: seeded
//! mutations of mDNS queries and responses (with compression pointers) fed to the DNS
//! decoder and to the responder; of WS-Discovery Probe, Resolve and Get messages fed to
//! the XML reader, the WS-Discovery responder and the HTTP request reader. `OPPORTUNE_FUZZ_SECS` sets the time (default 2 s),
//! `OPPORTUNE_FUZZ_SEED` replays a run (see fuzz/stable/mutator.rs).

#[path = "../../../fuzz/stable/mutator.rs"]
mod mutator;

use opportune_discovery::dns::{Message, Name, Question, RData, Record, CLASS_IN, TYPE_ANY, TYPE_PTR, TYPE_SRV};
use opportune_discovery::mdns::{Responder, Service};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn dns_seeds() -> Vec<Vec<u8>> {
    let q = |n: &str, t, qu| Question { name: name(n), qtype: t, qclass: CLASS_IN, unicast: qu };
    let known = Record {
        name: name("_smb._tcp.local"),
        class: CLASS_IN,
        flush: false,
        ttl: 4500,
        data: RData::Ptr(name("X._smb._tcp.local")),
    };
    let query = Message { questions: vec![q("_smb._tcp.local", TYPE_PTR, false)], answers: vec![known], ..Message::default() };
    let any = Message { questions: vec![q("srv._smb._tcp.local", TYPE_ANY, true), q("srv.local", 1, false)], ..Message::default() };
    // A response with compression: the answer's name and its PTR data point at the question.
    let mut compressed = vec![0, 1, 0x84, 0, 0, 1, 0, 2, 0, 0, 0, 0];
    compressed.extend_from_slice(b"\x04_smb\x04_tcp\x05local\x00\x00\x0C\x00\x01");
    compressed.extend_from_slice(b"\xC0\x0C\x00\x0C\x00\x01\x00\x00\x11\x94\x00\x06\x03Box\xC0\x0C");
    compressed.extend_from_slice(b"\xC0\x2D\x00\x21\x80\x01\x00\x00\x00\x78\x00\x08\x00\x00\x00\x00\x01\xBD\xC0\x2D");
    let srv = Message {
        answers: vec![Record {
            name: name("a.local"),
            class: CLASS_IN,
            flush: true,
            ttl: 120,
            data: RData::Srv { priority: 1, weight: 2, port: 445, target: name("b.local") },
        }],
        questions: vec![q("a.local", TYPE_SRV, false)],
        ..Message::default()
    };
    vec![query.encode(), any.encode(), compressed, srv.encode()]
}

fn responder() -> Responder {
    Responder::new(&Service {
        instance: "X".into(),
        host: "srv".into(),
        port: 445,
        addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))],
        txt: vec![],
        model: Some("Xserve".into()),
    })
    .unwrap()
}

#[test]
fn the_dns_decoder_and_the_mdns_responder_survive_mutated_packets() {
    let mut r = responder();
    let from = SocketAddr::from(([10, 0, 0, 2], 5353));
    let legacy = SocketAddr::from(([10, 0, 0, 2], 40000));
    // The clock moves a second per input, so neither the reply budget nor the
    // once-a-second rule silences the responder.
    let mut now = Instant::now();
    let mut replies = 0u64;
    let n = mutator::run("mdns", &dns_seeds(), |input| {
        now += std::time::Duration::from_secs(1);
        let t0 = now;
        if let Ok(m) = Message::decode(input) {
            // What decodes re-encodes to something that decodes to the same message.
            assert_eq!(Message::decode(&m.encode()).as_ref(), Ok(&m));
        }
        for t in r.handle_query(input, from, t0).into_iter().chain(r.handle_query(input, legacy, t0)) {
            assert!(Message::decode(&t.packet).is_ok(), "the responder's own reply decodes");
            replies += 1;
        }
        // A mutated response may claim our name: the renamed responder probes and stays
        // silent, so start again to keep exercising the answers.
        if r.instance() != "X" {
            r = responder();
        }
    });
    assert!(n >= 2000, "only {n} inputs tried");
    assert!(replies > 0, "no input was answered");
}

#[test]
fn the_seeds_decode() {
    for s in dns_seeds() {
        Message::decode(&s).unwrap();
    }
}

const WINDOWS_PROBE: &str = include_str!("data/windows-probe.xml");

fn wsd_seeds(endpoint: &str) -> Vec<Vec<u8>> {
    let resolve = WINDOWS_PROBE.replace("discovery/Probe<", "discovery/Resolve<").replace(
        "<wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe>",
        &format!("<wsd:Resolve><wsa:EndpointReference><wsa:Address>{endpoint}</wsa:Address></wsa:EndpointReference></wsd:Resolve>"),
    );
    let get = WINDOWS_PROBE
        .replace("http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe", "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get")
        .replace("urn:schemas-xmlsoap-org:ws:2005:04:discovery", endpoint);
    let http = format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n{get}", get.len());
    let comments = "<?xml version='1.0'?><!-- x --><a xmlns='urn:a'><![CDATA[<b>]]>&amp;&#65;<c d=\"&lt;\"/></a>";
    vec![WINDOWS_PROBE.into(), resolve.into_bytes(), get.into_bytes(), http.into_bytes(), comments.into()]
}

#[test]
fn the_ws_discovery_parsers_survive_mutated_messages() {
    use opportune_discovery::wsd::{device_uuid, urn, Device, Responder as Wsd};
    let uuid = device_uuid(b"m", "X");
    let mut r = Wsd::new(Device { uuid, computer: "X".into(), workgroup: "W".into(), xaddrs: "http://10.0.0.1:5357/x".into() }, 1);
    let mut t0 = Instant::now();
    let n = mutator::run("wsd", &wsd_seeds(&urn(&uuid)), |input| {
        t0 += std::time::Duration::from_secs(1);
        if let Ok(s) = std::str::from_utf8(input) {
            let _ = opportune_discovery::xml::parse(s);
        }
        if let Some(reply) = r.handle_datagram(input, t0) {
            assert!(opportune_discovery::xml::parse(std::str::from_utf8(&reply).unwrap()).is_ok());
        }
        let _ = r.handle_get(input);
        let _ = opportune_discovery::http::parse(input);
    });
    assert!(n >= 2000, "only {n} inputs tried");
}
