use super::*;
use crate::dns::{TYPE_A, TYPE_PTR, TYPE_SRV, TYPE_TXT};
use std::net::Ipv4Addr;

fn service() -> Service {
    Service {
        instance: "Files Box".into(),
        host: host_label("Files Box"),
        port: 4445,
        addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 233, 0, 7))],
        txt: vec![],
        model: Some("RackMac".into()),
    }
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn query(questions: &[(&str, u16, bool)], known: Vec<Record>) -> Vec<u8> {
    Message {
        questions: questions
            .iter()
            .map(|&(n, t, qu)| Question { name: name(n), qtype: t, qclass: CLASS_IN, unicast: qu })
            .collect(),
        answers: known,
        ..Message::default()
    }
    .encode()
}

const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 233, 0, 9)), PORT);

fn types(records: &[Record]) -> Vec<(String, u16)> {
    records.iter().map(|r| (r.name.to_string(), r.data.rtype())).collect()
}

#[test]
fn a_ptr_query_gets_the_ptr_with_srv_txt_and_address() {
    let mut r = Responder::new(&service()).unwrap();
    let out = r.handle_query(&query(&[("_smb._tcp.local", TYPE_PTR, false)], vec![]), PEER, Instant::now());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, Destination::Multicast);
    let m = Message::decode(&out[0].packet).unwrap();
    assert_eq!(m.flags, dns::FLAG_RESPONSE | dns::FLAG_AUTHORITATIVE);
    assert_eq!(m.id, 0);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].data, RData::Ptr(name("Files Box._smb._tcp.local")));
    assert!(!m.answers[0].flush, "a shared record has no cache-flush bit");
    assert_eq!(
        types(&m.additionals),
        vec![
            ("Files Box._smb._tcp.local".into(), TYPE_SRV),
            ("Files Box._smb._tcp.local".into(), TYPE_TXT),
            ("files-box.local".into(), TYPE_A),
        ]
    );
    let srv = &m.additionals[0];
    assert_eq!(srv.data, RData::Srv { priority: 0, weight: 0, port: 4445, target: name("files-box.local") });
    assert!(srv.flush && srv.ttl == 120);
    assert_eq!(m.additionals[2].data, RData::A(Ipv4Addr::new(10, 233, 0, 7)));
}

#[test]
fn the_qu_bit_gets_a_unicast_reply_to_the_querier() {
    let mut r = Responder::new(&service()).unwrap();
    let out = r.handle_query(&query(&[("files-box.local", TYPE_A, true)], vec![]), PEER, Instant::now());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, Destination::Unicast(PEER));
    let m = Message::decode(&out[0].packet).unwrap();
    assert_eq!(types(&m.answers), vec![("files-box.local".into(), TYPE_A)]);
}

#[test]
fn known_answers_with_enough_ttl_are_suppressed() {
    let mut r = Responder::new(&service()).unwrap();
    let ptr = |ttl| Record {
        name: name("_smb._tcp.local"),
        class: CLASS_IN,
        flush: false,
        ttl,
        data: RData::Ptr(name("files box._SMB._tcp.local")),
    };
    let now = Instant::now();
    assert!(r.handle_query(&query(&[("_smb._tcp.local", TYPE_PTR, true)], vec![ptr(3000)]), PEER, now).is_empty());
    // Less than half the TTL left: answered.
    assert_eq!(r.handle_query(&query(&[("_smb._tcp.local", TYPE_PTR, true)], vec![ptr(2000)]), PEER, now).len(), 1);
}

#[test]
fn service_enumeration_device_info_and_any() {
    let mut r = Responder::new(&service()).unwrap();
    let now = Instant::now();
    let out = r.handle_query(&query(&[("_services._dns-sd._udp.local", TYPE_PTR, true)], vec![]), PEER, now);
    let m = Message::decode(&out[0].packet).unwrap();
    assert_eq!(m.answers[0].data, RData::Ptr(name("_smb._tcp.local")));
    let out = r.handle_query(&query(&[("Files Box._device-info._tcp.local", TYPE_TXT, true)], vec![]), PEER, now);
    let m = Message::decode(&out[0].packet).unwrap();
    assert_eq!(m.answers[0].data, RData::Txt(vec![b"model=RackMac".to_vec()]));
    let out = r.handle_query(&query(&[("Files Box._smb._tcp.local", dns::TYPE_ANY, true)], vec![]), PEER, now);
    let m = Message::decode(&out[0].packet).unwrap();
    assert_eq!(types(&m.answers).len(), 2, "SRV and TXT");
    assert_eq!(types(&m.additionals), vec![("files-box.local".into(), TYPE_A)]);
}

#[test]
fn other_names_responses_and_garbage_get_nothing() {
    let mut r = Responder::new(&service()).unwrap();
    let now = Instant::now();
    assert!(r.handle_query(&query(&[("_ipp._tcp.local", TYPE_PTR, false)], vec![]), PEER, now).is_empty());
    let mut resp = query(&[("_smb._tcp.local", TYPE_PTR, false)], vec![]);
    resp[2] = 0x84;
    assert!(r.handle_query(&resp, PEER, now).is_empty());
    assert!(r.handle_query(b"\x00\x01garbage", PEER, now).is_empty());
}

#[test]
fn a_record_is_multicast_at_most_once_a_second() {
    let mut r = Responder::new(&service()).unwrap();
    let t0 = Instant::now();
    let q = query(&[("_smb._tcp.local", TYPE_PTR, false)], vec![]);
    assert_eq!(r.handle_query(&q, PEER, t0).len(), 1);
    assert!(r.handle_query(&q, PEER, t0 + Duration::from_millis(500)).is_empty());
    assert_eq!(r.handle_query(&q, PEER, t0 + Duration::from_millis(1000)).len(), 1);
}

#[test]
fn a_flood_of_queries_is_rate_limited() {
    let mut r = Responder::new(&service()).unwrap();
    let t0 = Instant::now();
    let q = query(&[("_smb._tcp.local", TYPE_PTR, true)], vec![]);
    let replies: usize = (0..1000).map(|_| r.handle_query(&q, PEER, t0).len()).sum();
    assert_eq!(replies, REPLY_BURST as usize);
    let later: usize = (0..1000).map(|_| r.handle_query(&q, PEER, t0 + Duration::from_secs(1)).len()).sum();
    assert_eq!(later, REPLY_RATE as usize);
}

#[test]
fn legacy_unicast_echoes_id_and_question_with_short_ttls() {
    let mut r = Responder::new(&service()).unwrap();
    let mut q = query(&[("_smb._tcp.local", TYPE_PTR, false)], vec![]);
    q[..2].copy_from_slice(&0x1234u16.to_be_bytes());
    let from = SocketAddr::new(PEER.ip(), 40000);
    let out = r.handle_query(&q, from, Instant::now());
    assert_eq!(out[0].to, Destination::Unicast(from));
    let m = Message::decode(&out[0].packet).unwrap();
    assert_eq!(m.id, 0x1234);
    assert_eq!(m.questions.len(), 1);
    assert!(m.answers.iter().chain(&m.additionals).all(|r| r.ttl <= 10 && !r.flush));
}

/// Every transmission from `start` until the responder has nothing more scheduled.
fn run_start(r: &mut Responder, t0: Instant) -> Vec<(Duration, Transmit)> {
    r.start(t0);
    let mut sent = Vec::new();
    while let Some(at) = r.poll_timeout() {
        sent.extend(r.handle_timeout(at).into_iter().map(|t| (at - t0, t)));
    }
    sent
}

#[test]
fn probes_then_announcements_then_a_goodbye_with_ttl_zero() {
    let mut r = Responder::new(&service()).unwrap();
    let t0 = Instant::now();
    let sent = run_start(&mut r, t0);
    let ms: Vec<u128> = sent.iter().map(|(d, _)| d.as_millis()).collect();
    assert_eq!(ms, vec![0, 250, 500, 750, 1750, 3750]);
    // The probes: ANY questions for the unique names, QU on the first, our unique
    // records in the authority section.
    let p = Message::decode(&sent[0].1.packet).unwrap();
    assert_eq!(p.flags, 0);
    let mut asked: Vec<String> = p.questions.iter().map(|q| q.name.to_string()).collect();
    asked.sort();
    assert_eq!(asked, ["Files Box._device-info._tcp.local", "Files Box._smb._tcp.local", "files-box.local"]);
    assert!(p.questions.iter().all(|q| q.qtype == dns::TYPE_ANY && q.unicast));
    assert_eq!(p.authorities.len(), 4, "SRV, TXT, device-info TXT, A");
    assert!(Message::decode(&sent[1].1.packet).unwrap().questions.iter().all(|q| !q.unicast));
    let m = Message::decode(&sent[3].1.packet).unwrap();
    assert_eq!(m.answers.len(), 7, "enumeration, PTR, SRV, TXT, device-info PTR and TXT, A");
    assert!(m.answers.iter().all(|r| r.ttl > 0));
    let bye = Message::decode(&r.goodbye().packet).unwrap();
    assert_eq!(bye.answers.len(), 7);
    assert!(bye.answers.iter().all(|r| r.ttl == 0));
    let q = query(&[("_smb._tcp.local", TYPE_PTR, true)], vec![]);
    assert!(r.handle_query(&q, PEER, t0 + Duration::from_secs(9)).is_empty(), "nothing is ours after the goodbye");
}

#[test]
fn nothing_is_answered_while_probing() {
    let mut r = Responder::new(&service()).unwrap();
    let t0 = Instant::now();
    r.start(t0);
    let q = query(&[("_smb._tcp.local", TYPE_PTR, true)], vec![]);
    r.handle_timeout(t0);
    assert!(r.handle_query(&q, PEER, t0).is_empty());
    for at in [t0 + Duration::from_millis(250), t0 + Duration::from_millis(500), t0 + Duration::from_millis(750)] {
        r.handle_timeout(at);
    }
    assert_eq!(r.handle_query(&q, PEER, t0 + Duration::from_millis(760)).len(), 1);
}

fn claim(name: &str, data: RData) -> Vec<u8> {
    let rec = Record { name: Name::parse(name).unwrap(), class: CLASS_IN, flush: true, ttl: 120, data };
    Message { flags: dns::FLAG_RESPONSE | dns::FLAG_AUTHORITATIVE, answers: vec![rec], ..Message::default() }.encode()
}

#[test]
fn another_host_with_our_name_makes_us_rename_and_probe_again() {
    let mut r = Responder::new(&service()).unwrap();
    r.add_host_addresses(&[IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2))]);
    let t0 = Instant::now();
    run_start(&mut r, t0);
    let later = t0 + Duration::from_secs(10);
    // Our own probes and announcements looped back, our address on another link, a
    // goodbye: no conflict.
    for (_, t) in run_start(&mut Responder::new(&service()).unwrap(), t0) {
        r.handle_query(&t.packet, PEER, later);
    }
    r.handle_query(&claim("files-box.local", RData::A(Ipv4Addr::new(10, 233, 0, 7))), PEER, later);
    r.handle_query(&claim("files-box.local", RData::A(Ipv4Addr::new(192, 168, 1, 2))), PEER, later);
    let mut bye = Message::decode(&claim("files-box.local", RData::A(Ipv4Addr::new(10, 1, 1, 1)))).unwrap();
    bye.answers[0].ttl = 0;
    r.handle_query(&bye.encode(), PEER, later);
    assert_eq!(r.instance(), "Files Box");
    assert!(r.poll_timeout().is_none());
    // Another SRV for our instance name: renamed, probing again at once.
    let srv = RData::Srv { priority: 0, weight: 0, port: 445, target: name("elsewhere.local") };
    r.handle_query(&claim("Files Box._smb._tcp.local", srv), PEER, later);
    assert_eq!(r.instance(), "Files Box (2)");
    assert_eq!(r.poll_timeout(), Some(later));
    let sent = run_start(&mut r, later);
    let m = Message::decode(&sent[3].1.packet).unwrap();
    assert!(m.answers.iter().any(|a| a.data == RData::Ptr(name("Files Box (2)._smb._tcp.local"))));
    assert!(m.answers.iter().any(|a| a.name == name("files-box-2.local")));
    // A host claiming our host name with another address: renamed again.
    r.handle_query(&claim("files-box-2.local", RData::A(Ipv4Addr::new(10, 1, 1, 1))), PEER, later);
    assert_eq!(r.instance(), "Files Box (3)");
}

#[test]
fn host_labels_are_letters_digits_and_hyphens() {
    assert_eq!(host_label("OPPORTUNE"), "opportune");
    assert_eq!(host_label("my_server.lan"), "my-server-lan");
    assert_eq!(host_label("..."), "opportune");
}
