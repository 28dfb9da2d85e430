//! The DNS message codec (RFC 1035 4.1) as mDNS uses it (RFC 6762 18): a header,
//! questions and three sections of resource records; PTR, SRV (RFC 2782), TXT, A and
//! AAAA data are typed, anything else is kept as raw bytes. Every read is checked: the
//! decoder runs on whatever arrives on the multicast group.

mod name;

pub use name::Name;

use std::net::{Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 0x0001;
pub const TYPE_PTR: u16 = 0x000C;
pub const TYPE_TXT: u16 = 0x0010;
pub const TYPE_AAAA: u16 = 0x001C;
pub const TYPE_SRV: u16 = 0x0021;
pub const TYPE_ANY: u16 = 0x00FF;
pub const CLASS_IN: u16 = 0x0001;
/// Top bit of a question's class: a unicast response is asked for (RFC 6762 5.4).
pub const CLASS_QU: u16 = 0x8000;
/// Top bit of a record's class: the record is unique, flush other cached data (RFC 6762 10.2).
pub const CLASS_FLUSH: u16 = 0x8000;
/// Header flag: a response (QR).
pub const FLAG_RESPONSE: u16 = 0x8000;
/// Header flag: authoritative answer (AA); mDNS responses set it (RFC 6762 18.4).
pub const FLAG_AUTHORITATIVE: u16 = 0x0400;
/// Header flag: truncated (TC); in a query, more known answers follow (RFC 6762 7.2).
pub const FLAG_TRUNCATED: u16 = 0x0200;

/// Records one message may carry: far more than any legitimate mDNS packet, few
/// enough that a decoded message stays small.
const MAX_RECORDS: usize = 256;
/// TXT strings in one record.
const MAX_TXT_STRINGS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DnsError {
    #[error("message truncated")]
    Truncated,
    #[error("bad label")]
    BadLabel,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("compression pointer loops or points forward")]
    BadPointer,
    #[error("record data does not match its type")]
    BadData,
    #[error("too many records")]
    TooMany,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    /// The class without the QU bit.
    pub qclass: u16,
    /// The QU bit (RFC 6762 5.4).
    pub unicast: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ptr(Name),
    Srv { priority: u16, weight: u16, port: u16, target: Name },
    /// The character strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    Other { rtype: u16, data: Vec<u8> },
}

impl RData {
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Aaaa(_) => TYPE_AAAA,
            RData::Ptr(_) => TYPE_PTR,
            RData::Srv { .. } => TYPE_SRV,
            RData::Txt(_) => TYPE_TXT,
            RData::Other { rtype, .. } => *rtype,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    /// The class without the cache-flush bit.
    pub class: u16,
    /// The cache-flush bit (RFC 6762 10.2).
    pub flush: bool,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

fn u16_at(msg: &[u8], at: &mut usize) -> Result<u16, DnsError> {
    let b = msg.get(*at..*at + 2).ok_or(DnsError::Truncated)?;
    *at += 2;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn u32_at(msg: &[u8], at: &mut usize) -> Result<u32, DnsError> {
    Ok(u32::from(u16_at(msg, at)?) << 16 | u32::from(u16_at(msg, at)?))
}

impl Message {
    /// Decodes a whole message; bytes after the last record are ignored.
    pub fn decode(msg: &[u8]) -> Result<Message, DnsError> {
        let mut at = 0;
        let id = u16_at(msg, &mut at)?;
        let flags = u16_at(msg, &mut at)?;
        let mut counts = [0usize; 4];
        for c in &mut counts {
            *c = usize::from(u16_at(msg, &mut at)?);
        }
        if counts.iter().sum::<usize>() > MAX_RECORDS {
            return Err(DnsError::TooMany);
        }
        let mut m = Message { id, flags, ..Message::default() };
        for _ in 0..counts[0] {
            let name = Name::decode(msg, &mut at)?;
            let qtype = u16_at(msg, &mut at)?;
            let class = u16_at(msg, &mut at)?;
            m.questions.push(Question { name, qtype, qclass: class & !CLASS_QU, unicast: class & CLASS_QU != 0 });
        }
        for (section, n) in [&mut m.answers, &mut m.authorities, &mut m.additionals].into_iter().zip(&counts[1..]) {
            for _ in 0..*n {
                section.push(Record::decode(msg, &mut at)?);
            }
        }
        Ok(m)
    }

    /// Encodes the message; names are written uncompressed (mDNS answers of one service
    /// stay far below the 1,472 bytes of an unfragmented IPv4 datagram on Ethernet).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for n in [self.questions.len(), self.answers.len(), self.authorities.len(), self.additionals.len()] {
            out.extend_from_slice(&(n.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        }
        for q in &self.questions {
            q.name.encode(&mut out);
            out.extend_from_slice(&q.qtype.to_be_bytes());
            let class = q.qclass | if q.unicast { CLASS_QU } else { 0 };
            out.extend_from_slice(&class.to_be_bytes());
        }
        for r in self.answers.iter().chain(&self.authorities).chain(&self.additionals) {
            r.encode(&mut out);
        }
        out
    }
}

impl Record {
    fn decode(msg: &[u8], at: &mut usize) -> Result<Record, DnsError> {
        let name = Name::decode(msg, at)?;
        let rtype = u16_at(msg, at)?;
        let class = u16_at(msg, at)?;
        let ttl = u32_at(msg, at)?;
        let len = usize::from(u16_at(msg, at)?);
        let end = at.checked_add(len).filter(|&e| e <= msg.len()).ok_or(DnsError::Truncated)?;
        let data = RData::decode(msg, *at, end, rtype)?;
        *at = end;
        Ok(Record { name, class: class & !CLASS_FLUSH, flush: class & CLASS_FLUSH != 0, ttl, data })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        out.extend_from_slice(&self.data.rtype().to_be_bytes());
        let class = self.class | if self.flush { CLASS_FLUSH } else { 0 };
        out.extend_from_slice(&class.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        self.data.encode(out);
        let len = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

impl RData {
    /// The data of type `rtype` in `msg[start..end]`; names in it may point anywhere
    /// before them in the message, but must end within the record.
    fn decode(msg: &[u8], start: usize, end: usize, rtype: u16) -> Result<RData, DnsError> {
        let data = &msg[start..end];
        let name_within = |at: &mut usize| -> Result<Name, DnsError> {
            let n = Name::decode(msg, at)?;
            if *at > end { Err(DnsError::BadData) } else { Ok(n) }
        };
        let r = match rtype {
            TYPE_A => RData::A(<[u8; 4]>::try_from(data).map_err(|_| DnsError::BadData)?.into()),
            TYPE_AAAA => RData::Aaaa(<[u8; 16]>::try_from(data).map_err(|_| DnsError::BadData)?.into()),
            TYPE_PTR => {
                let mut at = start;
                let n = name_within(&mut at)?;
                if at != end {
                    return Err(DnsError::BadData);
                }
                RData::Ptr(n)
            }
            TYPE_SRV => {
                let mut at = start;
                let (priority, weight, port) = (u16_at(data, &mut 0)?, u16_at(data, &mut 2)?, u16_at(data, &mut 4)?);
                at += 6;
                let target = name_within(&mut at)?;
                RData::Srv { priority, weight, port, target }
            }
            TYPE_TXT => RData::Txt(txt_strings(data)?),
            _ => RData::Other { rtype, data: data.to_vec() },
        };
        Ok(r)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            RData::A(a) => out.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => out.extend_from_slice(&a.octets()),
            RData::Ptr(n) => n.encode(out),
            RData::Srv { priority, weight, port, target } => {
                for v in [priority, weight, port] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                target.encode(out);
            }
            // RFC 6763 6.1: an empty TXT record holds one empty string.
            RData::Txt(strings) if strings.is_empty() => out.push(0),
            RData::Txt(strings) => {
                for s in strings {
                    let s = &s[..s.len().min(255)];
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
            }
            RData::Other { data, .. } => out.extend_from_slice(data),
        }
    }
}

/// The strings of a TXT record; empty data reads as the one empty string it stands for
/// (RFC 6763 6.1), so decoding and encoding agree.
fn txt_strings(mut data: &[u8]) -> Result<Vec<Vec<u8>>, DnsError> {
    if data.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let s = rest.get(..usize::from(len)).ok_or(DnsError::BadData)?;
        if out.len() == MAX_TXT_STRINGS {
            return Err(DnsError::TooMany);
        }
        out.push(s.to_vec());
        data = &rest[s.len()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn sample() -> Message {
        let rec = |n: &str, flush, data| Record { name: name(n), class: CLASS_IN, flush, ttl: 120, data };
        Message {
            id: 7,
            flags: FLAG_RESPONSE | FLAG_AUTHORITATIVE,
            questions: vec![Question { name: name("_smb._tcp.local"), qtype: TYPE_PTR, qclass: CLASS_IN, unicast: true }],
            answers: vec![rec("_smb._tcp.local", false, RData::Ptr(name("Box._smb._tcp.local")))],
            authorities: vec![rec("x.local", false, RData::Other { rtype: 47, data: vec![1, 2, 3] })],
            additionals: vec![
                rec("Box._smb._tcp.local", true, RData::Srv { priority: 0, weight: 0, port: 445, target: name("box.local") }),
                rec("Box._smb._tcp.local", true, RData::Txt(vec![b"a=1".to_vec(), Vec::new()])),
                rec("box.local", true, RData::A(Ipv4Addr::new(10, 0, 0, 1))),
                rec("box.local", true, RData::Aaaa(Ipv6Addr::LOCALHOST)),
            ],
        }
    }

    #[test]
    fn messages_round_trip() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn an_empty_txt_record_is_one_empty_string() {
        let mut out = Vec::new();
        RData::Txt(Vec::new()).encode(&mut out);
        assert_eq!(out, [0]);
        assert_eq!(txt_strings(&out).unwrap(), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn compressed_names_in_records_decode() {
        // Header, question "_smb._tcp.local" PTR, answer with name pointer and PTR data
        // "Box" + pointer to the question's name.
        let mut m = vec![0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x04_smb\x04_tcp\x05local\x00\x00\x0C\x00\x01");
        m.extend_from_slice(b"\xC0\x0C\x00\x0C\x00\x01\x00\x00\x11\x94\x00\x06\x03Box\xC0\x0C");
        let d = Message::decode(&m).unwrap();
        assert_eq!(d.answers[0].name, name("_smb._tcp.local"));
        assert_eq!(d.answers[0].data, RData::Ptr(name("Box._smb._tcp.local")));
        assert_eq!(d.answers[0].ttl, 4500);
    }

    #[test]
    fn malformed_messages_are_errors() {
        let good = sample().encode();
        // Every truncation fails cleanly.
        for n in 0..good.len() {
            assert!(Message::decode(&good[..n]).is_err(), "prefix of {n} bytes decoded");
        }
        // Counts beyond the bound.
        assert_eq!(Message::decode(&[0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]), Err(DnsError::TooMany));
        // An A record of 5 bytes; a PTR whose name runs past its data length.
        let mut a = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5];
        a.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(Message::decode(&a), Err(DnsError::BadData));
        let mut p = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, b'a', 0, 0, 12, 0, 1, 0, 0, 0, 1, 0, 2];
        p.extend_from_slice(&[1, b'b', 0]);
        assert_eq!(Message::decode(&p), Err(DnsError::BadData));
        // A TXT string longer than its record.
        let mut t = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, b'a', 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2];
        t.extend_from_slice(&[5, b'x']);
        assert_eq!(Message::decode(&t), Err(DnsError::BadData));
    }

    #[test]
    fn class_bits_are_split_off() {
        let m = sample();
        let d = Message::decode(&m.encode()).unwrap();
        assert!(d.questions[0].unicast && d.questions[0].qclass == CLASS_IN);
        assert!(d.additionals[0].flush && d.additionals[0].class == CLASS_IN);
        assert!(!d.answers[0].flush);
    }
}
