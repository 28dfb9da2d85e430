use super::*;
use crate::xml::{child, parse};

/// A Probe as Windows sends it (Microsoft's "WSD Debug Client" sample output, in
/// "Using a WSD debug client to verify UDP messages").
const WINDOWS_PROBE: &str = include_str!("../tests/data/windows-probe.xml");
const ADDR: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";

fn responder() -> Responder {
    let uuid = device_uuid(b"machine", "FILES");
    Responder::new(
        Device { uuid, computer: "FILES".into(), workgroup: "WORKGROUP".into(), xaddrs: format!("http://10.0.0.7:5357/{}", &urn(&uuid)[9..]) },
        1_700_000_000,
    )
}

fn text(e: &[Element], path: &[(&str, &str)]) -> String {
    let mut at = None;
    for (ns, local) in path {
        at = Some(child(e, at, ns, local).unwrap_or_else(|| panic!("no {local}")));
    }
    e[at.unwrap()].text.clone()
}

fn header(e: &[Element], local: &str) -> String {
    text(e, &[(SOAP, "Envelope"), (SOAP, "Header"), (ADDR, local)])
}

#[test]
fn a_windows_probe_gets_a_probe_match() {
    let mut r = responder();
    let now = Instant::now();
    let reply = r.handle_datagram(WINDOWS_PROBE.as_bytes(), now).expect("a ProbeMatches");
    let reply = String::from_utf8(reply).unwrap();
    let e = parse(&reply).unwrap();
    assert_eq!(header(&e, "Action"), format!("{}/ProbeMatches", V2005.discovery));
    assert_eq!(header(&e, "RelatesTo"), "urn:uuid:256ad815-1576-4e59-8efc-4c1e0f15fdd2");
    assert_eq!(header(&e, "To"), format!("{ADDR}/role/anonymous"));
    assert_ne!(header(&e, "MessageID"), header(&e, "RelatesTo"));
    let seq = child(&e, child(&e, Some(0), SOAP, "Header"), V2005.discovery, "AppSequence").unwrap();
    assert!(reply.contains("InstanceId=\"1700000000\""), "{reply}");
    assert_eq!(e[seq].parent, Some(1));
    let m = [(SOAP, "Envelope"), (SOAP, "Body"), (V2005.discovery, "ProbeMatches"), (V2005.discovery, "ProbeMatch")];
    let xaddrs = text(&e, &[&m[..], &[(V2005.discovery, "XAddrs")]].concat());
    assert_eq!(xaddrs, format!("http://10.0.0.7:5357/{}", &r.endpoint()[9..]));
    let addr = text(&e, &[&m[..], &[(ADDR, "EndpointReference"), (ADDR, "Address")]].concat());
    assert_eq!(addr, r.endpoint());
    let types_at = child(&e, child(&e, child(&e, child(&e, Some(0), SOAP, "Body"), V2005.discovery, "ProbeMatches"), V2005.discovery, "ProbeMatch"), V2005.discovery, "Types").unwrap();
    assert_eq!(e[types_at].resolve("pub:Computer"), Some((PUB.into(), "Computer".into())));
    // SOAP-over-UDP repeats the datagram: the repeat is not answered again.
    assert!(r.handle_datagram(WINDOWS_PROBE.as_bytes(), now).is_none());
}

#[test]
fn probes_for_other_types_or_with_scopes_get_nothing() {
    let mut r = responder();
    let now = Instant::now();
    let printer = WINDOWS_PROBE.replace("wsdp:Device", "wsdp:Device prn:Printer").replace("<soap:Header>", "<soap:Header xmlns:prn=\"urn:printers\">");
    assert!(r.handle_datagram(printer.as_bytes(), now).is_none());
    let scoped = WINDOWS_PROBE.replace("</wsd:Types>", "</wsd:Types><wsd:Scopes>ldap:///ou=x</wsd:Scopes>").replace("256ad815", "356ad815");
    assert!(r.handle_datagram(scoped.as_bytes(), now).is_none());
    // No Types at all: every device matches.
    let any = WINDOWS_PROBE.replace("<wsd:Types>wsdp:Device</wsd:Types>", "").replace("256ad815", "456ad815");
    assert!(r.handle_datagram(any.as_bytes(), now).is_some());
    // Garbage and truncations never answer and never panic.
    for n in 0..WINDOWS_PROBE.len() - 20 {
        let cut = WINDOWS_PROBE.replace("256ad815", "556ad815");
        assert!(r.handle_datagram(&cut.as_bytes()[..n], now).is_none());
    }
}

#[test]
fn resolve_of_our_endpoint_gets_a_resolve_match() {
    let mut r = responder();
    let resolve = |to: &str, id: &str| {
        WINDOWS_PROBE
            .replace("discovery/Probe<", "discovery/Resolve<")
            .replace("<wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe>", &format!("<wsd:Resolve><wsa:EndpointReference><wsa:Address>{to}</wsa:Address></wsa:EndpointReference></wsd:Resolve>"))
            .replace("256ad815", id)
    };
    let now = Instant::now();
    assert!(r.handle_datagram(resolve("urn:uuid:00000000-0000-0000-0000-000000000000", "11111111").as_bytes(), now).is_none());
    let ours = resolve(&r.endpoint().to_uppercase().replace("URN:UUID", "urn:uuid"), "22222222");
    let reply = String::from_utf8(r.handle_datagram(ours.as_bytes(), now).expect("a ResolveMatches")).unwrap();
    let e = parse(&reply).unwrap();
    assert_eq!(header(&e, "Action"), format!("{}/ResolveMatches", V2005.discovery));
    assert_eq!(header(&e, "RelatesTo"), "urn:uuid:22222222-1576-4e59-8efc-4c1e0f15fdd2");
}

#[test]
fn a_ws_discovery_11_probe_is_answered_in_11() {
    let mut r = responder();
    let probe = WINDOWS_PROBE
        .replace(V2005.discovery, V11.discovery)
        .replace(V2005.addressing, V11.addressing)
        .replace(V2005.multicast_to, V11.multicast_to);
    let reply = String::from_utf8(r.handle_datagram(probe.as_bytes(), Instant::now()).unwrap()).unwrap();
    let e = parse(&reply).unwrap();
    assert_eq!(text(&e, &[(SOAP, "Envelope"), (SOAP, "Header"), (V11.addressing, "Action")]), format!("{}/ProbeMatches", V11.discovery));
    assert_eq!(text(&e, &[(SOAP, "Envelope"), (SOAP, "Header"), (V11.addressing, "To")]), "http://www.w3.org/2005/08/addressing/anonymous");
}

#[test]
fn hello_and_bye_count_their_messages() {
    let mut r = responder();
    let hello = String::from_utf8(r.hello()).unwrap();
    let bye = String::from_utf8(r.bye()).unwrap();
    let e = parse(&hello).unwrap();
    assert_eq!(header(&e, "To"), V2005.multicast_to);
    assert_eq!(header(&e, "Action"), format!("{}/Hello", V2005.discovery));
    assert!(hello.contains("MessageNumber=\"1\"") && bye.contains("MessageNumber=\"2\""));
    let e = parse(&bye).unwrap();
    assert_eq!(header(&e, "Action"), format!("{}/Bye", V2005.discovery));
    assert_ne!(header(&e, "MessageID"), header(&parse(&hello).unwrap(), "MessageID"));
}

#[test]
fn a_get_returns_the_computer_and_workgroup() {
    let mut r = responder();
    let get = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP}\" xmlns:wsa=\"{ADDR}\"><soap:Header><wsa:To>{}</wsa:To>\
         <wsa:Action>{TRANSFER}/Get</wsa:Action><wsa:MessageID>urn:uuid:abc</wsa:MessageID>\
         <wsa:ReplyTo><wsa:Address>{ADDR}/role/anonymous</wsa:Address></wsa:ReplyTo></soap:Header><soap:Body/></soap:Envelope>",
        r.endpoint()
    );
    let reply = r.handle_get(get.as_bytes()).expect("a GetResponse");
    let e = parse(&reply).unwrap();
    assert_eq!(header(&e, "Action"), format!("{TRANSFER}/GetResponse"));
    assert_eq!(header(&e, "RelatesTo"), "urn:uuid:abc");
    let computer = e.iter().find(|x| x.ns == PUB && x.local == "Computer").expect("pub:Computer");
    assert_eq!(computer.text, "FILES/Workgroup:WORKGROUP");
    // Addressed to another endpoint, or not a Get: nothing.
    assert!(r.handle_get(get.replace(&r.endpoint().to_string(), "urn:uuid:x").as_bytes()).is_none());
    assert!(r.handle_get(WINDOWS_PROBE.as_bytes()).is_none());
}

#[test]
fn device_uuids_are_stable_and_shaped() {
    let a = urn(&device_uuid(b"m", "FILES"));
    assert_eq!(a, urn(&device_uuid(b"m", "files")));
    assert_ne!(a, urn(&device_uuid(b"n", "FILES")));
    assert_eq!(a.len(), 45);
    assert_eq!(&a[23..24], "8");
}
