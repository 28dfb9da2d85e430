//! Domain names (RFC 1035 3.1, 4.1.4): labels of at most 63 bytes, at most 255 bytes in
//! all, compared ignoring ASCII case (RFC 6762 16: mDNS names are UTF-8, matched
//! case-insensitively for ASCII letters only).

use super::DnsError;

/// A label may hold at most this many bytes (RFC 1035 2.3.4).
pub const MAX_LABEL: usize = 63;
/// A whole name in wire form, length octets and the root included (RFC 1035 2.3.4).
pub const MAX_NAME: usize = 255;
/// Compression pointers followed while reading one name. Each pointer must also point
/// before the one that led to it, so loops are impossible anyway; this bounds the work.
const MAX_JUMPS: usize = 32;

/// A domain name as its labels, without the root.
#[derive(Clone, Debug, Default)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// A name from dotted text ("_smb._tcp.local"); fails on an empty or oversized label.
    /// Dots cannot be escaped: instance names with dots are built with [`Name::prefixed`].
    pub fn parse(text: &str) -> Result<Name, DnsError> {
        let labels = text.trim_end_matches('.').split('.').map(|l| l.as_bytes().to_vec()).collect();
        Name::from_labels(labels)
    }

    /// `label` in front of `self` (an instance name before its service type).
    pub fn prefixed(&self, label: &str) -> Result<Name, DnsError> {
        let mut labels = vec![label.as_bytes().to_vec()];
        labels.extend(self.labels.iter().cloned());
        Name::from_labels(labels)
    }

    fn from_labels(labels: Vec<Vec<u8>>) -> Result<Name, DnsError> {
        if labels.iter().any(|l| l.is_empty() || l.len() > MAX_LABEL) {
            return Err(DnsError::BadLabel);
        }
        let name = Name { labels };
        if name.wire_len() > MAX_NAME {
            return Err(DnsError::NameTooLong);
        }
        Ok(name)
    }

    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    /// Length in wire form without compression.
    pub fn wire_len(&self) -> usize {
        self.labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1
    }

    /// Appends the name uncompressed.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for l in &self.labels {
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }

    /// Reads the name at `*at` in `msg`, following compression pointers (RFC 1035
    /// 4.1.4); `*at` moves past the name as it appears at that place.
    pub fn decode(msg: &[u8], at: &mut usize) -> Result<Name, DnsError> {
        let mut labels = Vec::new();
        let mut pos = *at;
        let mut jumps = 0;
        let mut wire = 1usize;
        // Where the name continues in the record after its first pointer.
        let mut resume = None;
        loop {
            let len = *msg.get(pos).ok_or(DnsError::Truncated)?;
            match len & 0xC0 {
                0x00 if len == 0 => {
                    *at = resume.unwrap_or(pos + 1);
                    return Ok(Name { labels });
                }
                0x00 => {
                    let label = msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(DnsError::Truncated)?;
                    wire += label.len() + 1;
                    if wire > MAX_NAME {
                        return Err(DnsError::NameTooLong);
                    }
                    labels.push(label.to_vec());
                    pos += 1 + label.len();
                }
                0xC0 => {
                    let low = *msg.get(pos + 1).ok_or(DnsError::Truncated)?;
                    let target = usize::from(len & 0x3F) << 8 | usize::from(low);
                    // Only backwards: a pointer to itself or further on could loop.
                    jumps += 1;
                    if target >= pos || jumps > MAX_JUMPS {
                        return Err(DnsError::BadPointer);
                    }
                    resume.get_or_insert(pos + 2);
                    pos = target;
                }
                // 0x40 and 0x80: extended label types (RFC 6891 obsoleted them).
                _ => return Err(DnsError::BadLabel),
            }
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.labels.len() == other.labels.len()
            && self.labels.iter().zip(&other.labels).all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl Eq for Name {}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&String::from_utf8_lossy(l))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_compare_ignoring_ascii_case() {
        let n = Name::parse("_smb._tcp.local").unwrap();
        let mut out = Vec::new();
        n.encode(&mut out);
        assert_eq!(out, b"\x04_smb\x04_tcp\x05local\x00");
        let mut at = 0;
        assert_eq!(Name::decode(&out, &mut at).unwrap(), Name::parse("_SMB._TCP.LOCAL.").unwrap());
        assert_eq!(at, out.len());
        assert_eq!(n.prefixed("My.Server").unwrap().to_string(), "My.Server._smb._tcp.local");
    }

    #[test]
    fn a_pointer_continues_the_name_and_the_cursor_stops_after_it() {
        let mut msg = b"\x05local\x00".to_vec();
        msg.extend_from_slice(b"\x04host\xC0\x00\xFF");
        let mut at = 7;
        assert_eq!(Name::decode(&msg, &mut at).unwrap().to_string(), "host.local");
        assert_eq!(at, 14);
    }

    #[test]
    fn loops_forward_pointers_and_oversized_names_are_refused() {
        // A pointer to itself, a pointer forwards, two pointers to each other.
        assert_eq!(Name::decode(b"\xC0\x00", &mut 0), Err(DnsError::BadPointer));
        assert_eq!(Name::decode(b"\xC0\x02\x00", &mut 0), Err(DnsError::BadPointer));
        assert_eq!(Name::decode(b"\xC0\x02\xC0\x00", &mut 2), Err(DnsError::BadPointer));
        // Truncated label, truncated pointer, reserved label type.
        assert_eq!(Name::decode(b"\x05loc", &mut 0), Err(DnsError::Truncated));
        assert_eq!(Name::decode(b"\xC0", &mut 0), Err(DnsError::Truncated));
        assert_eq!(Name::decode(b"\x40", &mut 0), Err(DnsError::BadLabel));
        // 5 labels of 63 bytes: 320 bytes in wire form.
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(Name::decode(&long, &mut 0), Err(DnsError::NameTooLong));
        assert_eq!(Name::parse(&"a".repeat(64)), Err(DnsError::BadLabel));
        assert_eq!(Name::parse("a..b"), Err(DnsError::BadLabel));
    }

    #[test]
    fn a_chain_of_backward_pointers_is_bounded() {
        // Each pointer points at the previous one: 40 jumps before reaching the root.
        let mut msg = vec![0u8];
        for i in 0..40u16 {
            let target = if i == 0 { 0 } else { 1 + 2 * (i - 1) };
            msg.extend_from_slice(&(0xC000 | target).to_be_bytes());
        }
        let mut at = msg.len() - 2;
        assert_eq!(Name::decode(&msg, &mut at), Err(DnsError::BadPointer));
    }
}
