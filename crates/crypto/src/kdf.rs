//! SMB 3.x key derivation (MS-SMB2 3.1.4.2) and per-session keys
//! (MS-SMB2 3.3.5.5.3 server side, 3.2.5.3.1 client side).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::Dialect;

/// SP800-108 counter-mode KDF with HMAC-SHA256 as PRF, one iteration,
/// r = 32, L = 128 (MS-SMB2 3.1.4.2):
/// `HMAC-SHA256(key, [1]_32 || label || 0x00 || context || [128]_32)[..16]`.
///
/// `label` and `context` are passed exactly as MS-SMB2 gives them: the label
/// includes its trailing NUL (e.g. `b"SMB2AESCMAC\0"`), and the KDF adds the
/// SP800-108 0x00 separator on top of it.
pub fn kdf(key: &[u8; 16], label: &[u8], context: &[u8]) -> [u8; 16] {
    let mut mac = hmac_sha256(key);
    mac.update(&1u32.to_be_bytes());
    mac.update(label);
    mac.update(&[0u8]);
    mac.update(context);
    mac.update(&128u32.to_be_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// SP800-108 counter-mode KDF with HMAC-SHA256 (MS-SMB2 3.1.4.2), generalised
/// to any key length and to an output of `out.len()` bytes:
/// `L = 8 * out.len()` is encoded in the input and the output is the leftmost
/// L bits of `K(1) || K(2) || ...` with
/// `K(i) = HMAC-SHA256(key, [i]_32 || label || 0x00 || context || [L]_32)`.
///
/// MS-SMB2 3.3.5.5.3 uses L = 256 (one HMAC-SHA256 block, since h = 256) for
/// the AES-256 cipher keys; everything else is L = 128, which is [`kdf`].
pub(crate) fn kdf_into(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    // L is a 32-bit field; SMB never asks for more than 256 bits.
    let l_bits = u32::try_from(out.len().saturating_mul(8)).unwrap_or(u32::MAX);
    let keyed = hmac_sha256_any(key);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut mac = keyed.clone();
        let counter = u32::try_from(i + 1).unwrap_or(u32::MAX);
        mac.update(&counter.to_be_bytes());
        mac.update(label);
        mac.update(&[0u8]);
        mac.update(context);
        mac.update(&l_bits.to_be_bytes());
        let block = mac.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

/// HMAC-SHA256 keyed with a key of any length, built without a fallible
/// constructor: keys up to the 64-byte block are zero-padded, longer ones are
/// hashed first (RFC 2104 section 2), which is what HMAC does anyway.
fn hmac_sha256_any(key: &[u8]) -> Hmac<Sha256> {
    use sha2::Digest;
    let mut block = [0u8; 64];
    if key.len() <= 64 {
        block[..key.len()].copy_from_slice(key);
    } else {
        block[..32].copy_from_slice(&Sha256::digest(key));
    }
    Hmac::<Sha256>::new(&block.into())
}

/// HMAC-SHA256 keyed with a 16-byte key. HMAC zero-pads keys shorter than
/// the 64-byte block (RFC 2104 section 2), so padding here gives the same MAC
/// and keeps construction infallible.
pub(crate) fn hmac_sha256(key: &[u8; 16]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(key);
    Hmac::<Sha256>::new(&block.into())
}

/// The keys of one session as the server uses them
/// (MS-SMB2 3.3.5.5.3: Session.SigningKey, Session.ApplicationKey,
/// Session.EncryptionKey, Session.DecryptionKey).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Session.SigningKey: signs and verifies messages in both directions.
    pub signing: [u8; 16],
    /// Session.ApplicationKey: handed to applications (e.g. RPC over pipes).
    pub application: [u8; 16],
    /// Session.EncryptionKey: the server encrypts what it sends with it.
    pub encryption_s2c: [u8; 16],
    /// Session.DecryptionKey: the server decrypts what it receives with it.
    pub decryption_c2s: [u8; 16],
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.write_str("SessionKeys { .. }")
    }
}

/// Derives the session keys from the 16-byte GSS session key
/// (MS-SMB2 3.3.5.5.3):
///
/// * 2.0.2 / 2.1: every key is the session key itself (only signing is
///   used; HMAC-SHA256 directly keyed with the session key).
/// * 3.0 / 3.0.2: `KDF(SK, "SMB2AESCMAC\0", "SmbSign\0")`,
///   `KDF(SK, "SMB2APP\0", "SmbRpc\0")`,
///   `KDF(SK, "SMB2AESCCM\0", "ServerOut\0")` (encryption, server to client),
///   `KDF(SK, "SMB2AESCCM\0", "ServerIn \0")` (decryption, client to server).
/// * 3.1.1: labels `"SMBSigningKey\0"`, `"SMBAppKey\0"`,
///   `"SMBS2CCipherKey\0"`, `"SMBC2SCipherKey\0"` with the session's preauth
///   integrity hash value as context.
///
/// For 3.1.1, `preauth_hash` must be the session's
/// PreauthIntegrityHashValue; if it is `None` an all-zero hash is used, which
/// yields keys no client will share (a caller bug, never a security hole).
/// For other dialects `preauth_hash` is ignored.
pub fn derive_session_keys(
    dialect: Dialect,
    session_key: &[u8; 16],
    preauth_hash: Option<&[u8; 64]>,
) -> SessionKeys {
    match dialect {
        Dialect::Smb202 | Dialect::Smb210 => SessionKeys {
            signing: *session_key,
            application: *session_key,
            encryption_s2c: *session_key,
            decryption_c2s: *session_key,
        },
        Dialect::Smb300 | Dialect::Smb302 => SessionKeys {
            signing: kdf(session_key, b"SMB2AESCMAC\0", b"SmbSign\0"),
            application: kdf(session_key, b"SMB2APP\0", b"SmbRpc\0"),
            encryption_s2c: kdf(session_key, b"SMB2AESCCM\0", b"ServerOut\0"),
            decryption_c2s: kdf(session_key, b"SMB2AESCCM\0", b"ServerIn \0"),
        },
        Dialect::Smb311 => {
            let zero = [0u8; 64];
            let ctx: &[u8] = preauth_hash.map_or(&zero, |h| h);
            SessionKeys {
                signing: kdf(session_key, b"SMBSigningKey\0", ctx),
                application: kdf(session_key, b"SMBAppKey\0", ctx),
                encryption_s2c: kdf(session_key, b"SMBS2CCipherKey\0", ctx),
                decryption_c2s: kdf(session_key, b"SMBC2SCipherKey\0", ctx),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{hex, hex16};

    // Vectors: Microsoft Open Specifications blog, "SMB 2 and SMB 3 security
    // in Windows 10: the anatomy of signing and cryptographic keys",
    // appendix "Key derivation examples". The blog names keys from the
    // client's side: its EncryptionKey is our decryption_c2s.

    #[test]
    fn smb300_vectors() {
        let sk = hex16("7CD451825D0450D235424E44BA6E78CC");
        let k = derive_session_keys(Dialect::Smb300, &sk, None);
        assert_eq!(k.signing, hex16("0B7E9C5CAC36C0F6EA9AB275298CEDCE"));
        assert_eq!(k.decryption_c2s, hex16("FAD27796665B313EBB578F388632B4F7"));
        assert_eq!(k.encryption_s2c, hex16("B0F0427F7CEB416D1D9DCC0CD4F99447"));
        assert_eq!(k.application, hex16("BB23A4575AA26C721AF525AF15A87B4F"));
        // Second channel of the same example.
        let sk2 = hex16("4E01A2B313BCF660CC250BEF021AEDE6");
        let k2 = derive_session_keys(Dialect::Smb302, &sk2, None);
        assert_eq!(k2.signing, hex16("BA1A17DBBFEC349BCA105563D598952F"));
    }

    #[test]
    fn smb311_vectors() {
        let sk = hex16("270E1BA896585EEB7AF3472D3B4C75A7");
        let h: [u8; 64] = hex(
            "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB79\
             28622DDDAD522D9751640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
        )
        .try_into()
        .unwrap();
        let k = derive_session_keys(Dialect::Smb311, &sk, Some(&h));
        assert_eq!(k.signing, hex16("73FE7A9A77BEF0BDE49C650D8CCB5F76"));
        assert_eq!(k.decryption_c2s, hex16("629BCBC54422A0F572B97F45989B6073"));
        assert_eq!(k.encryption_s2c, hex16("E2AF0DCEFAC68DA71A0DFBD0D1350D74"));
        assert_eq!(k.application, hex16("6D7AD7954E9EC61E907B4D473DC178FF"));
    }

    #[test]
    fn smb2_keys_are_session_key() {
        let sk = [7u8; 16];
        let k = derive_session_keys(Dialect::Smb210, &sk, None);
        assert_eq!(k.signing, sk);
        assert_eq!(k.application, sk);
        assert_eq!(format!("{k:?}"), "SessionKeys { .. }");
    }

    #[test]
    fn kdf_into_matches_kdf_for_128_bits() {
        let sk = hex16("7CD451825D0450D235424E44BA6E78CC");
        let mut out = [0u8; 16];
        kdf_into(&sk, b"SMB2AESCMAC\0", b"SmbSign\0", &mut out);
        assert_eq!(out, kdf(&sk, b"SMB2AESCMAC\0", b"SmbSign\0"));
        // Long keys are hashed, as HMAC specifies: same MAC as the library.
        let long = [0x5au8; 100];
        let mut a = [0u8; 40];
        kdf_into(&long, b"L\0", b"C", &mut a);
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&long).unwrap();
        m.update(&1u32.to_be_bytes());
        m.update(b"L\0\0C");
        m.update(&320u32.to_be_bytes());
        assert_eq!(a[..32], m.finalize().into_bytes()[..]);
    }

    #[test]
    fn kdf_raw_label() {
        // The label's NUL and the SP800-108 separator are distinct bytes.
        let sk = hex16("7CD451825D0450D235424E44BA6E78CC");
        assert_ne!(
            kdf(&sk, b"SMB2AESCMAC", b"SmbSign\0"),
            kdf(&sk, b"SMB2AESCMAC\0", b"SmbSign\0")
        );
    }
}
