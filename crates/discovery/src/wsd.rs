//! The WS-Discovery responder (sans-IO) of the Windows Network folder: the server as a
//! `wsdp:Device` of type `pub:Computer` (the "pub/computer" profile of Windows'
//! Function Discovery). Windows speaks the April 2005 draft of WS-Discovery (SOAP over
//! UDP, 239.255.255.250 / ff02::c port 3702, WS-Addressing 2004/08); a request in
//! WS-Discovery 1.1 (OASIS 2009/01) is answered in 1.1.
//!
//! - `hello` / `bye`: multicast announcements at start and stop (WS-Discovery 4.1, 4.2);
//! - `handle_datagram`: Probe -> ProbeMatches when the probed types are ours and no
//!   scope is asked for (5.3), Resolve -> ResolveMatches for our endpoint (6.3), each
//!   `RelatesTo` the request's MessageID and sent back to its sender; a request seen
//!   before (SOAP-over-UDP repeats datagrams) is not answered again;
//! - `handle_http`: the WS-Transfer Get that the XAddrs URL receives, answered with the
//!   device's metadata whose host relationship carries
//!   `<pub:Computer>NAME/Workgroup:WORKGROUP</pub:Computer>` (what the Network folder shows).

use crate::ratelimit::RateLimit;
use crate::xml::{self, Element};
use std::collections::VecDeque;
use std::time::Instant;

pub const PORT: u16 = 3702;
/// The metadata endpoint's port, as Windows uses it (`http://host:5357/<uuid>`).
pub const HTTP_PORT: u16 = 5357;

const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSDP: &str = "http://schemas.xmlsoap.org/ws/2006/02/devprof";
const PUB: &str = "http://schemas.microsoft.com/windows/pub/2005/07";
const WSX: &str = "http://schemas.xmlsoap.org/ws/2004/09/mex";
const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";

/// Requests remembered for duplicate suppression.
const SEEN: usize = 64;
const REPLY_RATE: u32 = 20;
const REPLY_BURST: u32 = 40;

/// The namespaces of one WS-Discovery version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Version {
    discovery: &'static str,
    addressing: &'static str,
    /// The `To` of multicast messages.
    multicast_to: &'static str,
}

const V2005: Version = Version {
    discovery: "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    addressing: "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    multicast_to: "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
};
const V11: Version = Version {
    discovery: "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01",
    addressing: "http://www.w3.org/2005/08/addressing",
    multicast_to: "urn:docs-oasis-open-org:ws-dd:ns:discovery:2009:01",
};

impl Version {
    fn anonymous(&self) -> String {
        if *self == V11 { format!("{}/anonymous", self.addressing) } else { format!("{}/role/anonymous", self.addressing) }
    }
}

/// What the responder says about the server.
#[derive(Clone, Debug)]
pub struct Device {
    /// The endpoint's stable UUID (see [`device_uuid`]).
    pub uuid: [u8; 16],
    pub computer: String,
    pub workgroup: String,
    /// Where the metadata is fetched: `http://ADDR:5357/UUID`.
    pub xaddrs: String,
}

/// A stable UUID for a server: the same machine and name give the same endpoint, so
/// Windows keeps one entry for it across restarts. `seed` is e.g. /etc/machine-id.
pub fn device_uuid(seed: &[u8], server_name: &str) -> [u8; 16] {
    // Two FNV-1a 64-bit hashes with different offsets; not cryptographic, only stable.
    let hash = |offset: u64| {
        let mut h = offset;
        for b in seed.iter().chain(b"/").chain(server_name.to_ascii_uppercase().as_bytes()) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01B3);
        }
        h
    };
    let mut u = [0u8; 16];
    u[..8].copy_from_slice(&hash(0xCBF2_9CE4_8422_2325).to_be_bytes());
    u[8..].copy_from_slice(&hash(0x8422_2325_CBF2_9CE4).to_be_bytes());
    // RFC 9562: version 8 (custom), variant 10.
    u[6] = (u[6] & 0x0F) | 0x80;
    u[8] = (u[8] & 0x3F) | 0x80;
    u
}

pub fn urn(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// What a request asked for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Probe { matches: bool },
    Resolve { ours: bool },
    Get,
}

pub struct Responder {
    device: Device,
    endpoint: String,
    /// AppSequence (WS-Discovery 7): the instance (e.g. start time in seconds) and the
    /// message counter within it.
    instance_id: u64,
    message_number: u64,
    seen: VecDeque<String>,
    limit: RateLimit,
}

impl Responder {
    pub fn new(device: Device, instance_id: u64) -> Responder {
        let endpoint = urn(&device.uuid);
        Responder { device, endpoint, instance_id, message_number: 0, seen: VecDeque::new(), limit: RateLimit::new(REPLY_RATE, REPLY_BURST) }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The Hello multicast at start.
    pub fn hello(&mut self) -> Vec<u8> {
        let body = format!("<wsd:Hello>{}</wsd:Hello>", self.endpoint_match());
        self.envelope(V2005, "Hello", V2005.multicast_to, None, &body).into_bytes()
    }

    /// The Bye multicast at stop.
    pub fn bye(&mut self) -> Vec<u8> {
        let body = format!("<wsd:Bye>{}</wsd:Bye>", self.epr());
        self.envelope(V2005, "Bye", V2005.multicast_to, None, &body).into_bytes()
    }

    /// The reply to a datagram, for its sender; None for anything else.
    pub fn handle_datagram(&mut self, packet: &[u8], now: Instant) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(packet).ok()?;
        let e = xml::parse(text).ok()?;
        let (version, id, request) = read_request(&e, &self.endpoint)?;
        if self.seen.contains(&id) {
            return None;
        }
        if self.seen.len() == SEEN {
            self.seen.pop_front();
        }
        self.seen.push_back(id.clone());
        let (action, body) = match request {
            Request::Probe { matches: true } => {
                ("ProbeMatches", format!("<wsd:ProbeMatches><wsd:ProbeMatch>{}</wsd:ProbeMatch></wsd:ProbeMatches>", self.endpoint_match()))
            }
            Request::Resolve { ours: true } => (
                "ResolveMatches",
                format!("<wsd:ResolveMatches><wsd:ResolveMatch>{}</wsd:ResolveMatch></wsd:ResolveMatches>", self.endpoint_match()),
            ),
            _ => return None,
        };
        if !self.limit.allow(now) {
            return None;
        }
        Some(self.envelope(version, action, &version.anonymous(), Some(&id), &body).into_bytes())
    }

    /// The SOAP answer to a WS-Transfer Get of the metadata (the body of an HTTP POST),
    /// or None when the request is something else.
    pub fn handle_get(&mut self, body: &[u8]) -> Option<String> {
        let e = xml::parse(std::str::from_utf8(body).ok()?).ok()?;
        let (version, id, request) = read_request(&e, &self.endpoint)?;
        if request != Request::Get {
            return None;
        }
        let d = &self.device;
        let section = |dialect: &str, inner: String| {
            format!("<wsx:MetadataSection Dialect=\"{WSDP}/{dialect}\">{inner}</wsx:MetadataSection>")
        };
        let name = xml::escape(&d.computer);
        let metadata = [
            section(
                "ThisDevice",
                format!("<wsdp:ThisDevice><wsdp:FriendlyName>{name}</wsdp:FriendlyName><wsdp:FirmwareVersion>{}</wsdp:FirmwareVersion><wsdp:SerialNumber>1</wsdp:SerialNumber></wsdp:ThisDevice>", env!("CARGO_PKG_VERSION")),
            ),
            section(
                "ThisModel",
                "<wsdp:ThisModel><wsdp:Manufacturer>Opportune</wsdp:Manufacturer><wsdp:ModelName>Opportune</wsdp:ModelName><pnpx:DeviceCategory>Computers</pnpx:DeviceCategory></wsdp:ThisModel>".to_string(),
            ),
            section(
                "Relationship",
                format!(
                    "<wsdp:Relationship Type=\"{WSDP}/host\"><wsdp:Host>{}<wsdp:Types>pub:Computer</wsdp:Types><wsdp:ServiceId>{}</wsdp:ServiceId><pub:Computer>{name}/Workgroup:{}</pub:Computer></wsdp:Host></wsdp:Relationship>",
                    self.epr(),
                    self.endpoint,
                    xml::escape(&d.workgroup)
                ),
            ),
        ]
        .concat();
        let body = format!("<wsx:Metadata>{metadata}</wsx:Metadata>");
        let action = format!("{TRANSFER}/GetResponse");
        Some(self.envelope_with(version, &action, &version.anonymous(), Some(&id), &body, false))
    }

    fn epr(&self) -> String {
        format!("<wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference>", self.endpoint)
    }

    /// EndpointReference, Types, XAddrs and MetadataVersion of a Hello or a match.
    fn endpoint_match(&self) -> String {
        format!(
            "{}<wsd:Types>wsdp:Device pub:Computer</wsd:Types><wsd:XAddrs>{}</wsd:XAddrs><wsd:MetadataVersion>1</wsd:MetadataVersion>",
            self.epr(),
            xml::escape(&self.device.xaddrs)
        )
    }

    fn envelope(&mut self, v: Version, action: &str, to: &str, relates_to: Option<&str>, body: &str) -> String {
        let action = format!("{}/{action}", v.discovery);
        self.envelope_with(v, &action, to, relates_to, body, true)
    }

    /// A SOAP envelope; discovery messages carry an AppSequence, transfer answers not.
    fn envelope_with(&mut self, v: Version, action: &str, to: &str, relates_to: Option<&str>, body: &str, sequence: bool) -> String {
        self.message_number += 1;
        let id = self.message_id();
        let relates = relates_to.map_or(String::new(), |r| format!("<wsa:RelatesTo>{}</wsa:RelatesTo>", xml::escape(r)));
        let seq = if sequence {
            format!("<wsd:AppSequence InstanceId=\"{}\" MessageNumber=\"{}\"/>", self.instance_id, self.message_number)
        } else {
            String::new()
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{SOAP}\" xmlns:wsa=\"{}\" xmlns:wsd=\"{}\" \
             xmlns:wsdp=\"{WSDP}\" xmlns:wsx=\"{WSX}\" xmlns:pub=\"{PUB}\" xmlns:pnpx=\"http://schemas.microsoft.com/windows/pnpx/2005/10\">\
             <soap:Header><wsa:To>{to}</wsa:To><wsa:Action>{action}</wsa:Action><wsa:MessageID>{id}</wsa:MessageID>{relates}{seq}</soap:Header>\
             <soap:Body>{body}</soap:Body></soap:Envelope>",
            v.addressing, v.discovery
        )
    }

    /// A MessageID unique to this endpoint, instance and message number.
    fn message_id(&self) -> String {
        let mut u = self.device.uuid;
        let n = (self.instance_id << 24) ^ self.message_number;
        for (b, x) in u[8..].iter_mut().zip(n.to_be_bytes()) {
            *b ^= x;
        }
        u[8] = (u[8] & 0x3F) | 0x80;
        urn(&u)
    }
}

/// The version, MessageID and kind of a SOAP request; None when it is none we answer.
fn read_request(e: &[Element], endpoint: &str) -> Option<(Version, String, Request)> {
    let env = xml::child(e, None, SOAP, "Envelope")?;
    let header = xml::child(e, Some(env), SOAP, "Header")?;
    let body = xml::child(e, Some(env), SOAP, "Body")?;
    for v in [V2005, V11] {
        let Some(action) = xml::child(e, Some(header), v.addressing, "Action") else { continue };
        let id = e[xml::child(e, Some(header), v.addressing, "MessageID")?].text.trim().to_string();
        if id.is_empty() || id.len() > 256 {
            return None;
        }
        let action = e[action].text.trim();
        let request = if action == format!("{}/Probe", v.discovery) {
            let probe = xml::child(e, Some(body), v.discovery, "Probe")?;
            Request::Probe { matches: probe_matches(e, probe, v) }
        } else if action == format!("{}/Resolve", v.discovery) {
            let resolve = xml::child(e, Some(body), v.discovery, "Resolve")?;
            let epr = xml::child(e, Some(resolve), v.addressing, "EndpointReference")?;
            let address = xml::child(e, Some(epr), v.addressing, "Address")?;
            Request::Resolve { ours: e[address].text.trim().eq_ignore_ascii_case(endpoint) }
        } else if action == format!("{TRANSFER}/Get") {
            // WS-Transfer over HTTP: addressed to our endpoint.
            let to = xml::child(e, Some(header), v.addressing, "To")?;
            if !e[to].text.trim().eq_ignore_ascii_case(endpoint) {
                return None;
            }
            Request::Get
        } else {
            return None;
        };
        return Some((v, id, request));
    }
    None
}

/// WS-Discovery 5.3: every probed type must be one of ours, and a probe naming
/// scopes gets no match (we have none).
fn probe_matches(e: &[Element], probe: usize, v: Version) -> bool {
    if let Some(s) = xml::child(e, Some(probe), v.discovery, "Scopes")
        && !e[s].text.trim().is_empty()
    {
        return false;
    }
    let Some(t) = xml::child(e, Some(probe), v.discovery, "Types") else { return true };
    e[t].text.split_ascii_whitespace().all(|q| {
        matches!(e[t].resolve(q), Some((ns, local)) if (ns == WSDP && local == "Device") || (ns == PUB && local == "Computer"))
    })
}

#[cfg(test)]
#[path = "wsd_tests.rs"]
mod tests;
