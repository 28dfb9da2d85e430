//! SMB 3.1.1 preauthentication integrity hash (MS-SMB2 3.3.5.4 for
//! Connection.PreauthIntegrityHashValue, 3.3.5.5 for
//! Session.PreauthIntegrityHashValue). Only SHA-512 (HashAlgorithmId 0x0001,
//! MS-SMB2 2.2.3.1.1) is defined.

use sha2::{Digest, Sha512};

/// A running preauth integrity hash value: starts all zero, then
/// `H = SHA-512(H || message)` for every NEGOTIATE / SESSION_SETUP message
/// hashed, as the whole SMB2 message (header included) as it is on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct PreauthHash([u8; 64]);

impl PreauthHash {
    /// The initial all-zero value (MS-SMB2 3.3.5.4).
    pub fn new() -> Self {
        PreauthHash([0u8; 64])
    }

    /// Chains one message into the hash: `H = SHA-512(H || message)`.
    pub fn update(&mut self, message: &[u8]) {
        let mut h = Sha512::new();
        h.update(self.0);
        h.update(message);
        self.0.copy_from_slice(&h.finalize());
    }

    /// The current value.
    pub fn value(&self) -> &[u8; 64] {
        &self.0
    }
}

impl Default for PreauthHash {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for PreauthHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PreauthHash(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    // Microsoft blog "SMB 2 and SMB 3 security in Windows 10: the anatomy of
    // signing and cryptographic keys", SMB 3.1.1 example, first channel.
    const NEG_REQ: &str = "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000\
        00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32\
        6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000\
        010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000\
        0200060000000000020002000100";
    const AFTER_NEG_REQ: &str = "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0\
        CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426";
    const SS_REQ1: &str = "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000\
        00000000000000000000000000000000000000000000000019000001010000000000000058004A00\
        0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A\
        04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000\
        000F";
    const AFTER_NEG_RESP: &str = "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99\
        7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513";
    const AFTER_SS_REQ1: &str = "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33\
        197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9";

    #[test]
    fn chain_matches_published_values() {
        let mut h = PreauthHash::new();
        assert_eq!(h.value(), &[0u8; 64]);
        h.update(&hex(NEG_REQ));
        assert_eq!(h.value()[..], hex(AFTER_NEG_REQ)[..]);

        // Session hash starts from the connection hash after the response.
        let mut s = PreauthHash(hex(AFTER_NEG_RESP).try_into().unwrap());
        s.update(&hex(SS_REQ1));
        assert_eq!(s.value()[..], hex(AFTER_SS_REQ1)[..]);
        assert!(format!("{s:?}").starts_with("PreauthHash(ac0b0f2b"));
    }

    #[test]
    fn clone_forks() {
        let mut a = PreauthHash::default();
        a.update(b"x");
        let mut b = a.clone();
        b.update(b"y");
        assert_ne!(a.value(), b.value());
    }
}
