//! NTLM cryptographic helpers (MS-NLMP 3.3.2 NTLMv2 keys, 3.4.5 key
//! derivation) and connection-oriented message integrity with extended
//! session security (MS-NLMP 3.4.4.2), used for the SPNEGO mechListMIC.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use rc4::{Rc4, StreamCipher};

use crate::NtHash;
use crate::ntlm_msg::{flags, utf16le};

pub(crate) type HmacMd5 = Hmac<Md5>;

/// HMAC-MD5 keyed with a 16-byte key (zero-padded to the 64-byte block as
/// RFC 2104 does, so construction is infallible).
pub(crate) fn hmac_md5(key: &[u8; 16]) -> HmacMd5 {
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(key);
    HmacMd5::new(&block.into())
}

pub(crate) fn hmac_md5_parts(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = hmac_md5(key);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Uppercases like Windows' RtlUpcaseUnicodeString: one code point to one
/// code point; characters whose uppercase is several characters stay as
/// they are.
fn upcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// NTOWFv2 (MS-NLMP 3.3.2):
/// `HMAC_MD5(NTOWFv1, UNICODE(Uppercase(User) || UserDom))`.
pub(crate) fn ntowf_v2(nt: &NtHash, user: &str, domain: &str) -> [u8; 16] {
    let mut text = upcase(user);
    text.push_str(domain);
    hmac_md5_parts(&nt.0, &[&utf16le(&text)])
}

/// RC4 with a 16-byte key over `data` in place (one-shot, MS-NLMP 6).
pub(crate) fn rc4_oneshot(key: &[u8; 16], data: &mut [u8]) {
    let mut c = new_rc4(key);
    c.apply_keystream(data);
}

fn new_rc4(key: &[u8; 16]) -> Rc4 {
    // RC4 accepts 1..=256-byte keys; 16 always fits.
    match Rc4::new_from_slice(key) {
        Ok(c) => c,
        Err(_) => unreachable!("RC4 accepts 16-byte keys"),
    }
}

fn md5_parts(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

const C2S_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const S2C_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const C2S_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const S2C_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Way {
    ClientToServer,
    ServerToClient,
}

/// Signing key, sealing RC4 handle and sequence number for one direction
/// (MS-NLMP 3.1.1.2 ClientSigningKey/ClientHandle/..., 3.4.5.2 SIGNKEY,
/// 3.4.5.3 SEALKEY with extended session security).
pub(crate) struct Direction {
    sign_key: [u8; 16],
    seal: Rc4,
    seq: u32,
    key_exch: bool,
}

impl Direction {
    /// Returns `None` when extended session security was not negotiated:
    /// NTLMv1-style (CRC32) signing is not supported.
    pub fn new(exported: &[u8; 16], negotiated: u32, way: Way) -> Option<Direction> {
        if negotiated & flags::EXTENDED_SESSIONSECURITY == 0 {
            return None;
        }
        let (sign_magic, seal_magic) = match way {
            Way::ClientToServer => (C2S_SIGN, C2S_SEAL),
            Way::ServerToClient => (S2C_SIGN, S2C_SEAL),
        };
        let sign_key = md5_parts(&[exported, sign_magic]);
        // SEALKEY: full key for 128-bit, 7 bytes for 56-bit, else 5 bytes.
        let seal_base: &[u8] = if negotiated & flags::NEG_128 != 0 {
            exported
        } else if negotiated & flags::NEG_56 != 0 {
            &exported[..7]
        } else {
            &exported[..5]
        };
        let seal_key = md5_parts(&[seal_base, seal_magic]);
        Some(Direction {
            sign_key,
            seal: new_rc4(&seal_key),
            seq: 0,
            key_exch: negotiated & flags::KEY_EXCH != 0,
        })
    }

    /// MAC with extended session security (MS-NLMP 3.4.4.2):
    /// Version 1, `HMAC_MD5(SigningKey, SeqNum || msg)[0..8]` (RC4-encrypted
    /// with the sealing handle when KEY_EXCH), SeqNum; then SeqNum += 1.
    pub fn mac(&mut self, msg: &[u8]) -> [u8; 16] {
        let seq = self.seq.to_le_bytes();
        let digest = hmac_md5_parts(&self.sign_key, &[&seq, msg]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&digest[..8]);
        if self.key_exch {
            self.seal.apply_keystream(&mut checksum);
        }
        self.seq = self.seq.wrapping_add(1);
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&1u32.to_le_bytes());
        out[4..12].copy_from_slice(&checksum);
        out[12..].copy_from_slice(&seq);
        out
    }

    /// SEAL (MS-NLMP 3.4.3): encrypts `data` in place with the sealing
    /// handle, then returns the MAC of the plaintext. Only the tests use it
    /// (MS-NLMP 4.2.4.4 vectors); SMB2 never seals with NTLM.
    #[cfg(test)]
    pub fn seal(&mut self, data: &mut [u8]) -> [u8; 16] {
        let plain = data.to_vec();
        self.seal.apply_keystream(data);
        self.mac(&plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    fn h16(s: &str) -> [u8; 16] {
        hex(s).try_into().unwrap()
    }

    #[test]
    fn ntowfv2_vector() {
        // MS-NLMP 4.2.4.1.1
        let k = ntowf_v2(&NtHash::from_password("Password"), "User", "Domain");
        assert_eq!(k, h16("0c868a403bfd7a93a3001ef22ef02e3f"));
        // The user is uppercased, the domain is not.
        assert_eq!(
            ntowf_v2(&NtHash::from_password("Password"), "uSeR", "Domain"),
            k
        );
        assert_ne!(
            ntowf_v2(&NtHash::from_password("Password"), "User", "DOMAIN"),
            k
        );
    }

    #[test]
    fn upcase_is_one_to_one() {
        assert_eq!(upcase("straße"), "STRAßE");
        assert_eq!(upcase("émile"), "ÉMILE");
    }

    #[test]
    fn seal_vector() {
        // MS-NLMP 4.2.4.4: RandomSessionKey 55..55, client-to-server keys,
        // flags of 4.2.4 (ESS, 128, 56, KEY_EXCH).
        let exported = [0x55u8; 16];
        let negotiated = 0xe28a8233;
        assert_eq!(
            md5_parts(&[&exported, C2S_SEAL]),
            h16("59f600973cc4960a25480a7c196e4c58")
        );
        assert_eq!(
            md5_parts(&[&exported, C2S_SIGN]),
            h16("4788dc861b4782f35d43fd98fe1a2d39")
        );
        let mut d = Direction::new(&exported, negotiated, Way::ClientToServer).unwrap();
        let mut data = utf16le("Plaintext");
        let sig = d.seal(&mut data);
        assert_eq!(data, hex("54e50165bf1936dc996020c1811b0f06fb5f"));
        assert_eq!(sig, h16("010000007fb38ec5c55d497600000000"));
        // Sequence number advances.
        let next = d.mac(b"x");
        assert_eq!(next[12..], 1u32.to_le_bytes());
    }

    #[test]
    fn no_ess_no_signing() {
        assert!(Direction::new(&[0; 16], flags::KEY_EXCH, Way::ServerToClient).is_none());
    }

    #[test]
    fn seal_key_truncation() {
        let k = [0x11u8; 16];
        let ess = flags::EXTENDED_SESSIONSECURITY;
        let mut a = Direction::new(
            &k,
            ess | flags::NEG_128 | flags::KEY_EXCH,
            Way::ServerToClient,
        )
        .unwrap();
        let mut b = Direction::new(
            &k,
            ess | flags::NEG_56 | flags::KEY_EXCH,
            Way::ServerToClient,
        )
        .unwrap();
        let mut c = Direction::new(&k, ess | flags::KEY_EXCH, Way::ServerToClient).unwrap();
        let (x, y, z) = (a.mac(b"m"), b.mac(b"m"), c.mac(b"m"));
        assert_ne!(x, y);
        assert_ne!(y, z);
        // Without KEY_EXCH the checksum is not encrypted.
        let mut p = Direction::new(&k, ess, Way::ServerToClient).unwrap();
        let sk = md5_parts(&[&k, S2C_SIGN]);
        let raw = hmac_md5_parts(&sk, &[&0u32.to_le_bytes(), b"m"]);
        assert_eq!(p.mac(b"m")[4..12], raw[..8]);
    }
}
