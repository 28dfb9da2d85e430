//! SMB2 message signing (MS-SMB2 3.1.4.1 "Signing An Outgoing Message",
//! 3.1.5.1 "Verifying an Incoming Message").

use aes::Aes128;
use aes::cipher::BlockCipherEncrypt;
use cmac::{Cmac, KeyInit, Mac};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use hmac::Hmac;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::SigningAlgorithm;
use crate::kdf::hmac_sha256;

/// Offset of the 16-byte Signature field in the SMB2 header (MS-SMB2 2.2.1).
const SIG_START: usize = 48;
/// End of the Signature field, which is also the header size.
const SIG_END: usize = 64;
/// SMB2_FLAGS_SERVER_TO_REDIR (MS-SMB2 2.2.1.2).
const FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
/// SMB2 CANCEL command code (MS-SMB2 2.2.1.2).
const CMD_CANCEL: u16 = 0x000C;

/// A signer bound to one key and algorithm. Cheap to clone; holds the keyed
/// primitive so per-message work is only the MAC itself.
#[derive(Clone)]
pub struct Signer {
    alg: SigningAlgorithm,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Hmac(Hmac<Sha256>),
    Cmac(Cmac<Aes128>),
    /// AES-GMAC = GCM with empty plaintext and the message as AAD
    /// (NIST SP800-38D), assembled here from AES and GHASH so that the
    /// zeroed signature field needs no copy of the message.
    Gmac {
        aes: Aes128,
        ghash: GHash,
    },
}

impl core::fmt::Debug for Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Creates a signer for `alg` keyed with `key` (the session's or
    /// channel's SigningKey, MS-SMB2 3.3.5.5.3).
    pub fn new(alg: SigningAlgorithm, key: [u8; 16]) -> Signer {
        let inner = match alg {
            SigningAlgorithm::HmacSha256 => Inner::Hmac(hmac_sha256(&key)),
            SigningAlgorithm::AesCmac => Inner::Cmac(Cmac::<Aes128>::new(&key.into())),
            SigningAlgorithm::AesGmac => {
                let aes = Aes128::new(&key.into());
                // Hash subkey H = E(K, 0^128) (SP800-38D 7.1).
                let mut h = ghash::Block::default();
                aes.encrypt_block(&mut h);
                Inner::Gmac {
                    aes,
                    ghash: GHash::new(&h),
                }
            }
        };
        Signer { alg, inner }
    }

    /// The algorithm this signer uses.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// Computes the signature of one whole SMB2 message (64-byte header +
    /// body, one element of a compound chain, MS-SMB2 3.1.4.1), treating the
    /// Signature field (bytes 48..64) as zero whatever it holds.
    ///
    /// * HMAC-SHA256: first 16 bytes of HMAC-SHA256(key, msg).
    /// * AES-CMAC: AES-128-CMAC(key, msg).
    /// * AES-GMAC (MS-SMB2 3.1.4.1, 2.2.3.1.7): the 12-byte nonce is the
    ///   header's MessageId (offset 24, 8 bytes) followed by a 32-bit
    ///   little-endian word whose bit 0 is set for a message from the server
    ///   (SMB2_FLAGS_SERVER_TO_REDIR) and bit 1 for a CANCEL request.
    ///
    /// Returns `None` if `msg` is shorter than the 64-byte header.
    pub fn signature(&self, msg: &[u8]) -> Option<[u8; 16]> {
        let head = msg.get(..SIG_START)?;
        let body = msg.get(SIG_END..)?;
        const ZERO: [u8; 16] = [0u8; 16];
        let mut out = [0u8; 16];
        match &self.inner {
            Inner::Hmac(keyed) => {
                let mut mac = keyed.clone();
                mac.update(head);
                mac.update(&ZERO);
                mac.update(body);
                out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
            }
            Inner::Cmac(keyed) => {
                let mut mac = keyed.clone();
                mac.update(head);
                mac.update(&ZERO);
                mac.update(body);
                out.copy_from_slice(&mac.finalize().into_bytes());
            }
            Inner::Gmac { aes, ghash } => {
                let nonce = gmac_nonce(msg)?;
                // GHASH over AAD = msg (48 and 16 are block multiples, so
                // padding each piece equals padding the whole), then the
                // length block [len(A) in bits]_64 || [len(C) = 0]_64.
                let mut g = ghash.clone();
                g.update_padded(head);
                g.update_padded(&ZERO);
                g.update_padded(body);
                let mut len_block = [0u8; 16];
                let bits = (msg.len() as u64).wrapping_mul(8);
                len_block[..8].copy_from_slice(&bits.to_be_bytes());
                g.update_padded(&len_block);
                let s = g.finalize();
                // Tag = E(K, J0) xor S with J0 = nonce || 0^31 || 1.
                let mut j0 = ghash::Block::default();
                j0[..12].copy_from_slice(&nonce);
                j0[15] = 1;
                aes.encrypt_block(&mut j0);
                for ((o, a), b) in out.iter_mut().zip(j0.iter()).zip(s.iter()) {
                    *o = a ^ b;
                }
            }
        }
        Some(out)
    }

    /// Computes the signature and writes it into `msg[48..64]`
    /// (MS-SMB2 3.1.4.1). Returns false if `msg` is shorter than 64 bytes.
    /// The caller sets SMB2_FLAGS_SIGNED in the header before calling.
    pub fn sign_in_place(&self, msg: &mut [u8]) -> bool {
        let Some(sig) = self.signature(msg) else {
            return false;
        };
        match msg.get_mut(SIG_START..SIG_END) {
            Some(field) => {
                field.copy_from_slice(&sig);
                true
            }
            None => false,
        }
    }

    /// Checks `msg[48..64]` against the computed signature in constant time
    /// (MS-SMB2 3.1.5.1). False if `msg` is shorter than 64 bytes.
    pub fn verify(&self, msg: &[u8]) -> bool {
        let (Some(expected), Some(got)) = (self.signature(msg), msg.get(SIG_START..SIG_END)) else {
            return false;
        };
        expected.ct_eq(got).into()
    }
}

/// The AES-GMAC nonce of a message (MS-SMB2 3.1.4.1): MessageId || role and
/// cancel bits.
fn gmac_nonce(msg: &[u8]) -> Option<[u8; 12]> {
    let command = u16::from_le_bytes(msg.get(12..14)?.try_into().ok()?);
    let flags = u32::from_le_bytes(msg.get(16..20)?.try_into().ok()?);
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(msg.get(24..32)?);
    let mut extra = 0u32;
    if flags & FLAGS_SERVER_TO_REDIR != 0 {
        extra |= 1;
    }
    if command == CMD_CANCEL {
        extra |= 2;
    }
    nonce[8..].copy_from_slice(&extra.to_le_bytes());
    Some(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{hex, hex16};
    use aes_gcm::Aes128Gcm;
    use aes_gcm::aead::AeadInOut;

    // Final SESSION_SETUP response of the SMB 3.1.1 example in Microsoft's
    // blog "SMB 2 and SMB 3 security in Windows 10: the anatomy of signing
    // and cryptographic keys"; signed with AES-CMAC under the SigningKey
    // derived there.
    const SIGNED_RESP: &str = "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000\
        1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01\
        00A3120410010000003B453CDC3524164200000000";

    fn sample(len: usize) -> Vec<u8> {
        let mut m: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        m[0..4].copy_from_slice(b"\xfeSMB");
        m
    }

    #[test]
    fn cmac_published_vector() {
        let msg = hex(SIGNED_RESP);
        let s = Signer::new(
            SigningAlgorithm::AesCmac,
            hex16("73FE7A9A77BEF0BDE49C650D8CCB5F76"),
        );
        assert_eq!(
            s.signature(&msg).unwrap(),
            hex16("EBE146DA120BA25FC3376A49DFE31BC1")
        );
        assert!(s.verify(&msg));
        let mut bad = msg.clone();
        bad[70] ^= 1;
        assert!(!s.verify(&bad));
        let mut resigned = msg.clone();
        resigned[48..64].fill(0xAA);
        assert!(!s.verify(&resigned));
        assert!(s.sign_in_place(&mut resigned));
        assert_eq!(resigned, msg);
    }

    #[test]
    fn hmac_sha256_known_value() {
        // Cross-checked with Python: hmac.new(bytes(range(16)),
        // m[:48] + bytes(16) + m[64:], sha256).hexdigest()[:32]
        // for m = bytes((i*7+3) & 0xff for i in range(100)) with b"\xfeSMB"
        // at the start.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let s = Signer::new(SigningAlgorithm::HmacSha256, key);
        let msg = sample(100);
        assert_eq!(s.signature(&msg).unwrap(), hex16(HMAC_EXPECTED));
    }
    const HMAC_EXPECTED: &str = "4fb4f80ec8c2bcc010bed7fb7eff7598";

    #[test]
    fn signature_field_is_ignored() {
        for alg in [
            SigningAlgorithm::HmacSha256,
            SigningAlgorithm::AesCmac,
            SigningAlgorithm::AesGmac,
        ] {
            let s = Signer::new(alg, [9u8; 16]);
            let mut a = sample(90);
            let b = a.clone();
            a[48..64].fill(0x5c);
            assert_eq!(s.signature(&a), s.signature(&b), "{alg:?}");
            assert!(s.sign_in_place(&mut a));
            assert!(s.verify(&a));
        }
    }

    #[test]
    fn gmac_matches_aes_gcm_oracle() {
        let key = hex16("000102030405060708090a0b0c0d0e0f");
        let s = Signer::new(SigningAlgorithm::AesGmac, key);
        let gcm = Aes128Gcm::new(&key.into());
        for len in [64usize, 65, 79, 80, 81, 200, 1000] {
            let mut msg = sample(len);
            msg[24..32].copy_from_slice(&0x1122334455667788u64.to_le_bytes());
            for (flags, cmd, extra) in [(0u32, 5u16, 0u32), (1, 5, 1), (0, 0x0C, 2), (1, 0x0C, 3)] {
                msg[16..20].copy_from_slice(&flags.to_le_bytes());
                msg[12..14].copy_from_slice(&cmd.to_le_bytes());
                let mut aad = msg.clone();
                aad[48..64].fill(0);
                let mut nonce = [0u8; 12];
                nonce[..8].copy_from_slice(&0x1122334455667788u64.to_le_bytes());
                nonce[8..].copy_from_slice(&extra.to_le_bytes());
                assert_eq!(gmac_nonce(&msg), Some(nonce));
                let tag = gcm
                    .encrypt_inout_detached(&nonce.into(), &aad, (&mut [][..]).into())
                    .unwrap();
                assert_eq!(
                    s.signature(&msg).unwrap()[..],
                    tag[..],
                    "len {len} flags {flags} cmd {cmd}"
                );
            }
        }
    }

    #[test]
    fn short_messages() {
        for alg in [
            SigningAlgorithm::HmacSha256,
            SigningAlgorithm::AesCmac,
            SigningAlgorithm::AesGmac,
        ] {
            let s = Signer::new(alg, [1u8; 16]);
            for len in 0..64 {
                let mut m = vec![0u8; len];
                assert_eq!(s.signature(&m), None);
                assert!(!s.sign_in_place(&mut m));
                assert!(!s.verify(&m));
            }
            assert!(s.signature(&[0u8; 64]).is_some());
            assert_eq!(s.algorithm(), alg);
        }
    }
}
