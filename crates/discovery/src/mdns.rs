//! The mDNS / DNS-SD responder of one link (RFC 6762, RFC 6763), sans-IO: queries in
//! (`handle_query(packet, from, now)`), datagrams out; `poll_timeout`/`handle_timeout`
//! drive the probes and start-up announcements, `goodbye` says the records are gone. A
//! response from another host claiming our instance or host name renames ours and
//! probes again.
//!
//! What it publishes for the server (RFC 6763 4.1, 6, 12.1):
//! - `_services._dns-sd._udp.local PTR _smb._tcp.local` (service type enumeration, 9);
//! - `_smb._tcp.local PTR <instance>._smb._tcp.local`, its SRV (port, `<host>.local`)
//!   and TXT;
//! - `_device-info._tcp.local PTR <instance>._device-info._tcp.local` and its TXT
//!   `model=...`, which macOS Finder reads to pick the icon of the server;
//! - `<host>.local` A / AAAA: the addresses the server listens on, on this link.
//!
//! It does not break ties between simultaneous probes (RFC 6762 8.2) nor delay shared
//! answers by 20-120 ms (6): it answers at once.

use crate::dns::{self, Message, Name, Question, RData, Record, CLASS_IN};
use crate::ratelimit::RateLimit;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The mDNS port; a query from another port is a "legacy unicast" query (RFC 6762 6.7).
pub const PORT: u16 = 5353;
/// TTL of records naming the host (A, AAAA, SRV) and of the others (RFC 6762 10).
const HOST_TTL: u32 = 120;
const OTHER_TTL: u32 = 4500;
/// Legacy unicast answers carry at most this TTL (RFC 6762 6.7).
const LEGACY_TTL: u32 = 10;
/// A record is multicast at most once a second per link (RFC 6762 6).
const MIN_MULTICAST_INTERVAL: Duration = Duration::from_secs(1);
/// Probes before announcing, 250 ms apart (RFC 6762 8.1).
const PROBES: u8 = 3;
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// Start-up announcements (RFC 6762 8.3: at least two, one second apart).
const ANNOUNCEMENTS: u8 = 3;
/// Replies a second after a burst, whatever the sources (docs/SECURITY.md).
const REPLY_RATE: u32 = 20;
const REPLY_BURST: u32 = 40;

/// What the responder announces.
#[derive(Clone, Debug)]
pub struct Service {
    /// The instance name shown to users (the server name).
    pub instance: String,
    /// The host's label: `<host>.local` (see [`host_label`]).
    pub host: String,
    pub port: u16,
    /// The server's addresses on this link.
    pub addrs: Vec<IpAddr>,
    /// `key=value` strings of the `_smb._tcp` TXT record.
    pub txt: Vec<String>,
    /// The `_device-info._tcp` model (`model=...`), if any.
    pub model: Option<String>,
}

/// A host label from a server name: letters, digits and hyphens (RFC 952/1123), lower case.
pub fn host_label(server_name: &str) -> String {
    let l: String = server_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(63)
        .collect();
    let l = l.trim_matches('-');
    if l.is_empty() { "opportune".to_string() } else { l.to_string() }
}

/// Where a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The group (224.0.0.251 or ff02::fb, port 5353) on this link.
    Multicast,
    Unicast(SocketAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: Destination,
    pub packet: Vec<u8>,
}

/// One of our records and when it was last multicast.
struct Own {
    record: Record,
    last_multicast: Option<Instant>,
}

/// Where the responder stands (RFC 6762 8): its unique names are probed for first,
/// then announced, then defended only by answering. A responder that was never
/// started answers at once (unit tests drive it so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Probing { sent: u8, next: Instant },
    Announcing { left: u8, next: Instant },
    Established,
    /// After the goodbye.
    Stopped,
}

pub struct Responder {
    /// As configured; `service` is it, renamed after each conflict.
    base: Service,
    service: Service,
    /// Every address of this host (all links): another link's announcement of our host
    /// name, looped back on a shared network, is no conflict.
    host_addrs: Vec<IpAddr>,
    conflicts: u32,
    own: Vec<Own>,
    limit: RateLimit,
    phase: Phase,
}

impl Responder {
    pub fn new(service: &Service) -> Result<Responder, dns::DnsError> {
        let mut r = Responder {
            base: service.clone(),
            service: service.clone(),
            host_addrs: service.addrs.clone(),
            conflicts: 0,
            own: Vec::new(),
            limit: RateLimit::new(REPLY_RATE, REPLY_BURST),
            phase: Phase::Established,
        };
        r.rebuild()?;
        Ok(r)
    }

    /// Addresses of this host on other links (see `host_addrs`).
    pub fn add_host_addresses(&mut self, addrs: &[IpAddr]) {
        self.host_addrs.extend(addrs.iter().filter(|a| !self.service.addrs.contains(a)));
    }

    /// The instance name now in use (renamed after a conflict).
    pub fn instance(&self) -> &str {
        &self.service.instance
    }

    fn rebuild(&mut self) -> Result<(), dns::DnsError> {
        self.own = records(&self.service)?.into_iter().map(|record| Own { record, last_multicast: None }).collect();
        Ok(())
    }

    /// Probes for the names (RFC 6762 8.1), the first probe at `now`, then announces them.
    pub fn start(&mut self, now: Instant) {
        self.phase = Phase::Probing { sent: 0, next: now };
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Probing { next, .. } | Phase::Announcing { next, .. } => Some(next),
            Phase::Established | Phase::Stopped => None,
        }
    }

    /// The probe or announcement due at `now`, if any: three probes 250 ms apart, then
    /// unsolicited responses with every record, intervals doubling from one second (8.3).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Transmit> {
        match self.phase {
            Phase::Probing { sent, next } if now >= next => {
                if sent == PROBES {
                    self.phase = Phase::Announcing { left: ANNOUNCEMENTS, next: now };
                    return self.handle_timeout(now);
                }
                self.phase = Phase::Probing { sent: sent + 1, next: now + PROBE_INTERVAL };
                vec![Transmit { to: Destination::Multicast, packet: self.probe(sent == 0) }]
            }
            Phase::Announcing { left, next } if now >= next => {
                let sent = ANNOUNCEMENTS - left;
                self.phase = if left > 1 {
                    Phase::Announcing { left: left - 1, next: now + Duration::from_secs(1 << sent) }
                } else {
                    Phase::Established
                };
                for o in &mut self.own {
                    o.last_multicast = Some(now);
                }
                vec![Transmit { to: Destination::Multicast, packet: self.unsolicited(None) }]
            }
            _ => Vec::new(),
        }
    }

    /// A probe: "ANY" questions for the instance and host names (the first asking for a
    /// unicast answer), our unique records in the authority section (RFC 6762 8.1, 8.2).
    fn probe(&self, first: bool) -> Vec<u8> {
        let unique: Vec<Record> = self.own.iter().filter(|o| o.record.flush).map(|o| o.record.clone()).collect();
        let mut names: Vec<Name> = Vec::new();
        for r in &unique {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
        let questions = names
            .into_iter()
            .map(|name| Question { name, qtype: dns::TYPE_ANY, qclass: CLASS_IN, unicast: first })
            .collect();
        Message { questions, authorities: unique, ..Message::default() }.encode()
    }

    /// Every record with TTL 0: caches forget the service (RFC 6762 10.1).
    pub fn goodbye(&mut self) -> Transmit {
        self.phase = Phase::Stopped;
        Transmit { to: Destination::Multicast, packet: self.unsolicited(Some(0)) }
    }

    /// A response from another host that gives one of our unique names other data
    /// (RFC 6762 9): take the next name ("NAME (2)", host "name-2") and probe again;
    /// after 15 conflicts, wait 5 s before each probe (8.1).
    fn handle_response(&mut self, m: &Message, now: Instant) {
        if !matches!(self.phase, Phase::Probing { .. } | Phase::Announcing { .. } | Phase::Established) {
            return;
        }
        let conflict = m.answers.iter().chain(&m.additionals).any(|r| self.conflicts_with(r));
        if !conflict {
            return;
        }
        self.conflicts += 1;
        let n = self.conflicts + 1;
        self.service.instance = format!("{} ({n})", self.base.instance);
        self.service.host = format!("{}-{n}", self.base.host);
        if self.rebuild().is_err() {
            self.phase = Phase::Stopped;
            return;
        }
        let wait = if self.conflicts > 15 { Duration::from_secs(5) } else { Duration::ZERO };
        self.phase = Phase::Probing { sent: 0, next: now + wait };
    }

    fn conflicts_with(&self, r: &Record) -> bool {
        let rtype = r.data.rtype();
        let ours: Vec<&Record> =
            self.own.iter().map(|o| &o.record).filter(|o| o.flush && o.name == r.name && o.data.rtype() == rtype).collect();
        let another_link = match &r.data {
            RData::A(a) => self.host_addrs.contains(&IpAddr::V4(*a)),
            RData::Aaaa(a) => self.host_addrs.contains(&IpAddr::V6(*a)),
            _ => false,
        };
        r.ttl > 0 && !ours.is_empty() && !ours.iter().any(|o| o.data == r.data) && !another_link
    }

    fn unsolicited(&self, ttl: Option<u32>) -> Vec<u8> {
        let answers = self.own.iter().map(|o| Record { ttl: ttl.unwrap_or(o.record.ttl), ..o.record.clone() }).collect();
        response(0, Vec::new(), answers, Vec::new())
    }

    /// The replies to one datagram from `from` (none for responses, malformed packets,
    /// questions about other names, or when the rate limit is reached).
    pub fn handle_query(&mut self, packet: &[u8], from: SocketAddr, now: Instant) -> Vec<Transmit> {
        let Ok(query) = Message::decode(packet) else { return Vec::new() };
        // RFC 6762 18.3, 18.11: only standard queries and responses without an error code.
        if query.flags & (0x7800 | 0x000F) != 0 {
            return Vec::new();
        }
        if query.flags & dns::FLAG_RESPONSE != 0 {
            self.handle_response(&query, now);
            return Vec::new();
        }
        // Names being probed for are not ours yet (8.1); after the goodbye nothing is.
        if matches!(self.phase, Phase::Probing { .. } | Phase::Stopped) {
            return Vec::new();
        }
        if from.port() != PORT {
            return self.legacy_reply(&query, from, now).into_iter().collect();
        }
        let mut out = Vec::new();
        for unicast in [true, false] {
            let questions: Vec<&Question> = query.questions.iter().filter(|q| q.unicast == unicast).collect();
            let mut answers = self.answers(&questions, &query.answers);
            if !unicast {
                answers.retain(|&i| self.own[i].last_multicast.is_none_or(|t| now.duration_since(t) >= MIN_MULTICAST_INTERVAL));
            }
            if answers.is_empty() || !self.limit.allow(now) {
                continue;
            }
            let additionals = self.additionals(&answers);
            if !unicast {
                for &i in answers.iter().chain(&additionals) {
                    self.own[i].last_multicast = Some(now);
                }
            }
            let to = if unicast { Destination::Unicast(from) } else { Destination::Multicast };
            let packet = response(0, Vec::new(), self.pick(&answers, None), self.pick(&additionals, None));
            out.push(Transmit { to, packet });
        }
        out
    }

    /// RFC 6762 6.7: the query's id and questions echoed, no cache-flush bits, short TTLs,
    /// sent back to the querier's address and port.
    fn legacy_reply(&mut self, query: &Message, from: SocketAddr, now: Instant) -> Option<Transmit> {
        let questions: Vec<&Question> = query.questions.iter().collect();
        let answers = self.answers(&questions, &[]);
        if answers.is_empty() || !self.limit.allow(now) {
            return None;
        }
        let additionals = self.additionals(&answers);
        let unflushed = |v: Vec<Record>| v.into_iter().map(|r| Record { flush: false, ..r }).collect();
        let packet = response(
            query.id,
            query.questions.iter().map(|q| Question { unicast: false, ..q.clone() }).collect(),
            unflushed(self.pick(&answers, Some(LEGACY_TTL))),
            unflushed(self.pick(&additionals, Some(LEGACY_TTL))),
        );
        Some(Transmit { to: Destination::Unicast(from), packet })
    }

    /// Indices of our records answering `questions`, less those the querier says it
    /// knows with at least half their TTL left (known-answer suppression, RFC 6762 7.1).
    fn answers(&self, questions: &[&Question], known: &[Record]) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, o) in self.own.iter().enumerate() {
            let r = &o.record;
            let asked = questions.iter().any(|q| {
                q.name == r.name
                    && (q.qtype == dns::TYPE_ANY || q.qtype == r.data.rtype())
                    && (q.qclass == CLASS_IN || q.qclass == 0x00FF)
            });
            let is_known = known.iter().any(|k| k.name == r.name && k.data == r.data && k.ttl >= r.ttl / 2);
            if asked && !is_known {
                out.push(i);
            }
        }
        out
    }

    /// RFC 6763 12: with a PTR its SRV and TXT, with an SRV its host's addresses; none
    /// that is already an answer.
    fn additionals(&self, answers: &[usize]) -> Vec<usize> {
        let mut names: Vec<&Name> = Vec::new();
        for &i in answers {
            match &self.own[i].record.data {
                RData::Ptr(target) => names.push(target),
                RData::Srv { target, .. } => names.push(target),
                _ => {}
            }
        }
        // A PTR's target's SRV names the host: one more round.
        for o in &self.own {
            if let RData::Srv { target, .. } = &o.record.data
                && names.contains(&&o.record.name)
            {
                names.push(target);
            }
        }
        (0..self.own.len())
            .filter(|i| !answers.contains(i))
            .filter(|&i| names.contains(&&self.own[i].record.name) && self.own[i].record.data.rtype() != dns::TYPE_PTR)
            .collect()
    }

    fn pick(&self, idx: &[usize], max_ttl: Option<u32>) -> Vec<Record> {
        idx.iter()
            .map(|&i| {
                let r = &self.own[i].record;
                Record { ttl: max_ttl.map_or(r.ttl, |m| r.ttl.min(m)), ..r.clone() }
            })
            .collect()
    }
}

fn response(id: u16, questions: Vec<Question>, answers: Vec<Record>, additionals: Vec<Record>) -> Vec<u8> {
    let flags = dns::FLAG_RESPONSE | dns::FLAG_AUTHORITATIVE;
    Message { id, flags, questions, answers, authorities: Vec::new(), additionals }.encode()
}

/// Every record of the service.
fn records(s: &Service) -> Result<Vec<Record>, dns::DnsError> {
    let local = Name::parse("local")?;
    let smb = Name::parse("_smb._tcp.local")?;
    let instance = smb.prefixed(&s.instance)?;
    let host = local.prefixed(&s.host)?;
    let rec = |name: &Name, flush, ttl, data| Record { name: name.clone(), class: CLASS_IN, flush, ttl, data };
    // No strings is written as one empty string (RFC 6763 6.1) and read back so: keep
    // it in that form, or our own records looped back would look like another host's.
    let txt = |strings: &[String]| match strings {
        [] => RData::Txt(vec![Vec::new()]),
        _ => RData::Txt(strings.iter().map(|t| t.as_bytes().to_vec()).collect()),
    };
    let mut out = vec![
        rec(&Name::parse("_services._dns-sd._udp.local")?, false, OTHER_TTL, RData::Ptr(smb.clone())),
        rec(&smb, false, OTHER_TTL, RData::Ptr(instance.clone())),
        rec(&instance, true, HOST_TTL, RData::Srv { priority: 0, weight: 0, port: s.port, target: host.clone() }),
        rec(&instance, true, OTHER_TTL, txt(&s.txt)),
    ];
    if let Some(model) = &s.model {
        let info = Name::parse("_device-info._tcp.local")?;
        let info_instance = info.prefixed(&s.instance)?;
        out.push(rec(&info, false, OTHER_TTL, RData::Ptr(info_instance.clone())));
        out.push(rec(&info_instance, true, OTHER_TTL, txt(&[format!("model={model}")])));
    }
    for a in &s.addrs {
        let data = match a {
            IpAddr::V4(v4) => RData::A(*v4),
            IpAddr::V6(v6) => RData::Aaaa(*v6),
        };
        out.push(rec(&host, true, HOST_TTL, data));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "mdns_tests.rs"]
mod tests;
