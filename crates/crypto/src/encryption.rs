//! SMB 3.x message encryption: the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41),
//! encrypting (3.1.4.3), decrypting (3.3.5.2.1), the cipher ids of
//! SMB2_ENCRYPTION_CAPABILITIES (2.2.3.1.2) and the cipher keys of a session
//! (3.3.5.5.3).
//!
//! A TRANSFORM message is laid out as follows (all integers little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | ProtocolId `0xFD 'S' 'M' 'B'` |
//! | 4 | 16 | Signature (the AEAD tag) |
//! | 20 | 16 | Nonce (11 bytes for CCM, 12 for GCM, then zero padding) |
//! | 36 | 4 | OriginalMessageSize |
//! | 40 | 2 | Reserved |
//! | 42 | 2 | Flags (3.1.1) / EncryptionAlgorithm (3.0.x), `0x0001` |
//! | 44 | 8 | SessionId |
//! | 52 | … | the encrypted SMB2 message (or compound chain) |
//!
//! The additional authenticated data is the header from Nonce through
//! SessionId (bytes 20..52): everything but ProtocolId and Signature.

use core::sync::atomic::{AtomicU64, Ordering};

use aes::{Aes128, Aes256};
use aes_gcm::aead::consts::{U11, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::Ccm;

use crate::Dialect;
use crate::kdf::kdf_into;

/// ProtocolId of the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41), in wire order.
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
/// Size of the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41).
pub const TRANSFORM_HEADER_SIZE: usize = 52;
/// Flags value "Encrypted" (3.1.1), the same value as EncryptionAlgorithm
/// SMB2_ENCRYPTION_AES128_CCM (3.0 / 3.0.2) (MS-SMB2 2.2.41).
pub const TRANSFORM_FLAG_ENCRYPTED: u16 = 0x0001;

const SIG: core::ops::Range<usize> = 4..20;
const NONCE: core::ops::Range<usize> = 20..36;
const ORIGINAL_SIZE: core::ops::Range<usize> = 36..40;
const FLAGS: core::ops::Range<usize> = 42..44;
const SESSION_ID: core::ops::Range<usize> = 44..52;
/// The AAD: Nonce through SessionId (MS-SMB2 3.1.4.3).
const AAD: core::ops::Range<usize> = 20..52;

/// AES-CCM as SMB uses it: 16-byte tag, 11-byte nonce (so a 4-byte length
/// field, messages below 4 GiB) (MS-SMB2 2.2.41, RFC 4309 / RFC 5084).
type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;

/// Errors of the encryption layer. Every malformed or forged frame maps to
/// one of these; none of them panics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key does not have the cipher's length ([`Cipher::key_len`]).
    #[error("{cipher:?} needs a {expected}-byte key, got {got} bytes")]
    InvalidKeyLength {
        /// The cipher the key was meant for.
        cipher: Cipher,
        /// The cipher's key length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The frame is not longer than the 52-byte TRANSFORM_HEADER
    /// (MS-SMB2 3.3.5.2.1: the server disconnects).
    #[error("frame of {0} bytes is not longer than the 52-byte SMB2 TRANSFORM_HEADER")]
    Truncated(usize),
    /// The frame does not start with `0xFD 'S' 'M' 'B'`.
    #[error("not an SMB2 TRANSFORM_HEADER (ProtocolId {0:02x?})")]
    NotTransform([u8; 4]),
    /// Flags/EncryptionAlgorithm is not 0x0001 (MS-SMB2 3.3.5.2.1: the server
    /// disconnects).
    #[error("TRANSFORM_HEADER Flags/EncryptionAlgorithm is {0:#06x}, expected 0x0001")]
    BadFlags(u16),
    /// OriginalMessageSize differs from the number of bytes after the header.
    #[error("OriginalMessageSize is {declared} but {actual} encrypted bytes follow the header")]
    SizeMismatch {
        /// OriginalMessageSize from the header.
        declared: u32,
        /// Bytes after the 52-byte header.
        actual: usize,
    },
    /// The tag does not match: wrong key, or the header's authenticated part
    /// (Nonce .. SessionId), the ciphertext or the tag was altered.
    #[error("SMB2 TRANSFORM message failed authentication")]
    AuthenticationFailed,
    /// The message cannot be encrypted: OriginalMessageSize is a 32-bit field
    /// (and CCM with an 11-byte nonce is limited to 2^32 - 1 bytes too).
    #[error("message of {0} bytes is too large to encrypt")]
    MessageTooLarge(usize),
}

/// Encryption cipher of a connection: the CipherId of
/// SMB2_ENCRYPTION_CAPABILITIES (MS-SMB2 2.2.3.1.2). SMB 3.0 and 3.0.2 always
/// use AES-128-CCM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// 0x0001 AES-128-CCM.
    Aes128Ccm,
    /// 0x0002 AES-128-GCM.
    Aes128Gcm,
    /// 0x0003 AES-256-CCM.
    Aes256Ccm,
    /// 0x0004 AES-256-GCM.
    Aes256Gcm,
}

impl Cipher {
    /// Maps a CipherId (MS-SMB2 2.2.3.1.2); `None` for unknown ids
    /// (including 0, which a server answers with when it shares no cipher).
    pub fn from_id(id: u16) -> Option<Cipher> {
        match id {
            1 => Some(Cipher::Aes128Ccm),
            2 => Some(Cipher::Aes128Gcm),
            3 => Some(Cipher::Aes256Ccm),
            4 => Some(Cipher::Aes256Gcm),
            _ => None,
        }
    }

    /// The CipherId (MS-SMB2 2.2.3.1.2).
    pub fn id(self) -> u16 {
        match self {
            Cipher::Aes128Ccm => 1,
            Cipher::Aes128Gcm => 2,
            Cipher::Aes256Ccm => 3,
            Cipher::Aes256Gcm => 4,
        }
    }

    /// Key length in bytes: 16 for the AES-128 ciphers, 32 for AES-256.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes128Gcm => 16,
            Cipher::Aes256Ccm | Cipher::Aes256Gcm => 32,
        }
    }

    /// Length of the AEAD nonce at the start of the TRANSFORM_HEADER's
    /// 16-byte Nonce field: 11 for CCM (AES_CCM_Nonce), 12 for GCM
    /// (AES_GCM_Nonce) (MS-SMB2 2.2.41).
    pub fn nonce_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes256Ccm => 11,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 12,
        }
    }
}

/// The two encryption keys of a session (MS-SMB2 3.3.5.5.3).
#[derive(Clone, PartialEq, Eq)]
pub struct CipherKeys {
    /// Session.EncryptionKey: the server encrypts what it sends with it (the
    /// client's DecryptionKey).
    pub server_to_client: Vec<u8>,
    /// Session.DecryptionKey: the server decrypts what it receives with it
    /// (the client's EncryptionKey).
    pub client_to_server: Vec<u8>,
}

impl core::fmt::Debug for CipherKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.write_str("CipherKeys { .. }")
    }
}

/// Derives a session's encryption keys (MS-SMB2 3.3.5.5.3) with the
/// SP800-108 KDF of MS-SMB2 3.1.4.2:
///
/// * 3.0 / 3.0.2: `KDF(SessionKey, "SMB2AESCCM\0", "ServerOut\0")` server to
///   client and `KDF(SessionKey, "SMB2AESCCM\0", "ServerIn \0")` client to
///   server. These dialects only know AES-128-CCM; pass
///   [`Cipher::Aes128Ccm`].
/// * 3.1.1: labels `"SMBS2CCipherKey\0"` (server to client) and
///   `"SMBC2SCipherKey\0"` (client to server), with the session's
///   PreauthIntegrityHashValue as context (`None` gives an all-zero context,
///   i.e. keys no client shares: a caller bug, never a hole).
///
/// The key length follows the cipher. For the AES-128 ciphers the KDF's L is
/// 128 and the key derivation key is Session.SessionKey: the first 16 bytes
/// of `session_key`, right-padded with zeros if it is shorter. For AES-256 L
/// is 256 (encoded as such in the KDF input; one HMAC-SHA256 block gives all
/// 256 bits) and the key derivation key is Session.FullSessionKey, all of
/// `session_key` (16 bytes for NTLM, 32 for Kerberos with AES-256).
///
/// SMB 2.0.2 and 2.1 have no encryption: both keys come back empty, which
/// [`Encryptor::new`] and [`Decryptor::new`] reject.
pub fn derive_cipher_keys(
    dialect: Dialect,
    cipher: Cipher,
    session_key: &[u8],
    preauth_hash: Option<&[u8; 64]>,
) -> CipherKeys {
    let zero = [0u8; 64];
    let (s2c_label, s2c_ctx, c2s_label, c2s_ctx): (&[u8], &[u8], &[u8], &[u8]) = match dialect {
        Dialect::Smb202 | Dialect::Smb210 => {
            return CipherKeys {
                server_to_client: Vec::new(),
                client_to_server: Vec::new(),
            };
        }
        Dialect::Smb300 | Dialect::Smb302 => (
            b"SMB2AESCCM\0",
            b"ServerOut\0",
            b"SMB2AESCCM\0",
            b"ServerIn \0",
        ),
        Dialect::Smb311 => {
            let ctx: &[u8] = preauth_hash.map_or(&zero, |h| h);
            (b"SMBS2CCipherKey\0", ctx, b"SMBC2SCipherKey\0", ctx)
        }
    };
    let mut short = [0u8; 16];
    let kdk: &[u8] = if cipher.key_len() == 16 {
        let n = session_key.len().min(16);
        short[..n].copy_from_slice(&session_key[..n]);
        &short
    } else {
        session_key
    };
    let mut server_to_client = vec![0u8; cipher.key_len()];
    let mut client_to_server = vec![0u8; cipher.key_len()];
    kdf_into(kdk, s2c_label, s2c_ctx, &mut server_to_client);
    kdf_into(kdk, c2s_label, c2s_ctx, &mut client_to_server);
    CipherKeys {
        server_to_client,
        client_to_server,
    }
}

/// A keyed AEAD of one of the four ciphers.
#[derive(Clone)]
enum Aead {
    Aes128Ccm(Box<Aes128Ccm>),
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Ccm(Box<Aes256Ccm>),
    Aes256Gcm(Box<Aes256Gcm>),
}

impl Aead {
    fn new(cipher: Cipher, key: &[u8]) -> Result<Aead, CryptoError> {
        let bad = || CryptoError::InvalidKeyLength {
            cipher,
            expected: cipher.key_len(),
            got: key.len(),
        };
        Ok(match cipher {
            Cipher::Aes128Ccm => {
                Aead::Aes128Ccm(Box::new(Aes128Ccm::new_from_slice(key).map_err(|_| bad())?))
            }
            Cipher::Aes128Gcm => {
                Aead::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
            Cipher::Aes256Ccm => {
                Aead::Aes256Ccm(Box::new(Aes256Ccm::new_from_slice(key).map_err(|_| bad())?))
            }
            Cipher::Aes256Gcm => {
                Aead::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
        })
    }

    fn cipher(&self) -> Cipher {
        match self {
            Aead::Aes128Ccm(_) => Cipher::Aes128Ccm,
            Aead::Aes128Gcm(_) => Cipher::Aes128Gcm,
            Aead::Aes256Ccm(_) => Cipher::Aes256Ccm,
            Aead::Aes256Gcm(_) => Cipher::Aes256Gcm,
        }
    }

    /// Encrypts `buf` in place; the nonce is the first 11 (CCM) or 12 (GCM)
    /// bytes of the 16-byte Nonce field.
    fn seal(&self, nonce_field: &[u8; 16], aad: &[u8], buf: &mut [u8]) -> Option<[u8; 16]> {
        let (n11, n12) = split_nonce(nonce_field);
        let tag = match self {
            Aead::Aes128Ccm(a) => a.encrypt_inout_detached(&n11.into(), aad, buf.into()),
            Aead::Aes128Gcm(a) => a.encrypt_inout_detached(&n12.into(), aad, buf.into()),
            Aead::Aes256Ccm(a) => a.encrypt_inout_detached(&n11.into(), aad, buf.into()),
            Aead::Aes256Gcm(a) => a.encrypt_inout_detached(&n12.into(), aad, buf.into()),
        }
        .ok()?;
        Some(tag.into())
    }

    /// Verifies `tag` and decrypts `buf` in place (the AEAD crates compare
    /// tags in constant time and clear `buf` on failure).
    fn open(&self, nonce_field: &[u8; 16], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let (n11, n12) = split_nonce(nonce_field);
        let tag = (*tag).into();
        match self {
            Aead::Aes128Ccm(a) => a.decrypt_inout_detached(&n11.into(), aad, buf.into(), &tag),
            Aead::Aes128Gcm(a) => a.decrypt_inout_detached(&n12.into(), aad, buf.into(), &tag),
            Aead::Aes256Ccm(a) => a.decrypt_inout_detached(&n11.into(), aad, buf.into(), &tag),
            Aead::Aes256Gcm(a) => a.decrypt_inout_detached(&n12.into(), aad, buf.into(), &tag),
        }
        .is_ok()
    }
}

/// AES_CCM_Nonce and AES_GCM_Nonce views of the Nonce field (MS-SMB2 2.2.41).
fn split_nonce(field: &[u8; 16]) -> ([u8; 11], [u8; 12]) {
    let mut n11 = [0u8; 11];
    let mut n12 = [0u8; 12];
    n11.copy_from_slice(&field[..11]);
    n12.copy_from_slice(&field[..12]);
    (n11, n12)
}

/// Builds a whole TRANSFORM message around `message` with the given Nonce
/// field (MS-SMB2 3.1.4.3).
fn seal_frame(
    aead: &Aead,
    nonce_field: &[u8; 16],
    session_id: u64,
    message: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let size =
        u32::try_from(message.len()).map_err(|_| CryptoError::MessageTooLarge(message.len()))?;
    let mut out = Vec::with_capacity(TRANSFORM_HEADER_SIZE + message.len());
    out.extend_from_slice(&TRANSFORM_PROTOCOL_ID);
    out.extend_from_slice(&[0u8; 16]); // Signature, filled in below
    out.extend_from_slice(nonce_field);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    out.extend_from_slice(&TRANSFORM_FLAG_ENCRYPTED.to_le_bytes());
    out.extend_from_slice(&session_id.to_le_bytes());
    out.extend_from_slice(message);
    let (header, body) = out.split_at_mut(TRANSFORM_HEADER_SIZE);
    let tag = aead
        .seal(nonce_field, &header[AAD], body)
        .ok_or(CryptoError::MessageTooLarge(message.len()))?;
    header[SIG].copy_from_slice(&tag);
    Ok(out)
}

/// Encrypts whole SMB2 messages for one session and direction
/// (MS-SMB2 3.1.4.3): the server's Session.EncryptionKey.
///
/// Nonces come from a 64-bit counter that starts at the caller's random
/// prefix: the AES_CCM_Nonce / AES_GCM_Nonce is that counter value
/// (little-endian, 8 bytes) followed by zeros, and the TRANSFORM_HEADER's
/// Nonce field is the nonce zero-padded to 16 bytes. One `Encryptor` thus
/// never repeats a nonce before 2^64 messages; several encryptors sharing a
/// key (the channels of one session) start at independent random points of
/// the 2^64 space, so their ranges overlap only with negligible probability.
///
/// `Send + Sync`: share it behind an `Arc`; [`Encryptor::encrypt`] takes
/// `&self`.
pub struct Encryptor {
    aead: Aead,
    counter: AtomicU64,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("cipher", &self.aead.cipher())
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Creates an encryptor for `cipher` keyed with `key`
    /// ([`Cipher::key_len`] bytes). `nonce_prefix` must be fresh random
    /// bytes from the caller (this crate has no randomness of its own); it is
    /// the starting point of the nonce counter.
    pub fn new(
        cipher: Cipher,
        key: &[u8],
        nonce_prefix: [u8; 8],
    ) -> Result<Encryptor, CryptoError> {
        Ok(Encryptor {
            aead: Aead::new(cipher, key)?,
            counter: AtomicU64::new(u64::from_le_bytes(nonce_prefix)),
        })
    }

    /// The cipher this encryptor uses.
    pub fn cipher(&self) -> Cipher {
        self.aead.cipher()
    }

    /// Encrypts one SMB2 message, or a whole compound chain, as it would go
    /// on the wire without the 4-byte Direct TCP transport header
    /// (MS-SMB2 3.1.4.3). Returns the 52-byte TRANSFORM_HEADER (Signature =
    /// AEAD tag, fresh Nonce, OriginalMessageSize = `message.len()`,
    /// Flags = 0x0001, `session_id`) followed by the ciphertext.
    ///
    /// # Panics
    /// If `message` is 4 GiB or longer, which OriginalMessageSize cannot
    /// express. Direct TCP frames are at most 2^24 - 1 bytes (MS-SMB2 2.1),
    /// so no sendable message gets there; use [`Encryptor::try_encrypt`] to
    /// get an error instead.
    pub fn encrypt(&self, session_id: u64, message: &[u8]) -> Vec<u8> {
        match self.try_encrypt(session_id, message) {
            Ok(frame) => frame,
            Err(e) => panic!("SMB2 encryption: {e}"),
        }
    }

    /// [`Encryptor::encrypt`] that reports a too-large message as
    /// [`CryptoError::MessageTooLarge`] instead of panicking.
    pub fn try_encrypt(&self, session_id: u64, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if u32::try_from(message.len()).is_err() {
            // Checked before a nonce is used up.
            return Err(CryptoError::MessageTooLarge(message.len()));
        }
        // Relaxed is enough: every fetch_add returns a distinct value.
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut nonce_field = [0u8; 16];
        nonce_field[..8].copy_from_slice(&n.to_le_bytes());
        seal_frame(&self.aead, &nonce_field, session_id, message)
    }
}

/// Verifies and decrypts TRANSFORM messages for one session and direction
/// (MS-SMB2 3.3.5.2.1): the server's Session.DecryptionKey.
#[derive(Clone)]
pub struct Decryptor {
    aead: Aead,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("cipher", &self.aead.cipher())
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Creates a decryptor for `cipher` keyed with `key`
    /// ([`Cipher::key_len`] bytes).
    pub fn new(cipher: Cipher, key: &[u8]) -> Result<Decryptor, CryptoError> {
        Ok(Decryptor {
            aead: Aead::new(cipher, key)?,
        })
    }

    /// The cipher this decryptor uses.
    pub fn cipher(&self) -> Cipher {
        self.aead.cipher()
    }

    /// Verifies and decrypts one TRANSFORM message (without the 4-byte
    /// transport header) and returns the SMB2 message or compound chain it
    /// carries (MS-SMB2 3.3.5.2.1).
    ///
    /// Errors, in the order checked: [`CryptoError::Truncated`] if the frame
    /// is not longer than the 52-byte header, [`CryptoError::NotTransform`]
    /// for another ProtocolId, [`CryptoError::BadFlags`] if
    /// Flags/EncryptionAlgorithm is not 0x0001, [`CryptoError::SizeMismatch`]
    /// if OriginalMessageSize is not the length of what follows the header,
    /// and [`CryptoError::AuthenticationFailed`] for a bad tag. The Nonce's
    /// padding and the Reserved field are not checked for zero (Windows puts
    /// non-zero bytes there) but are authenticated as part of the AAD.
    ///
    /// The caller still has to check that the decrypted message's SessionId
    /// matches the TRANSFORM_HEADER's (MS-SMB2 3.3.5.2.1.1).
    pub fn decrypt(&self, frame: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Some((header, body)) = frame.split_at_checked(TRANSFORM_HEADER_SIZE) else {
            return Err(CryptoError::Truncated(frame.len()));
        };
        if body.is_empty() {
            return Err(CryptoError::Truncated(frame.len()));
        }
        let fields = parse_header(header)?;
        if fields.flags != TRANSFORM_FLAG_ENCRYPTED {
            return Err(CryptoError::BadFlags(fields.flags));
        }
        if usize::try_from(fields.original_size).ok() != Some(body.len()) {
            return Err(CryptoError::SizeMismatch {
                declared: fields.original_size,
                actual: body.len(),
            });
        }
        let mut out = body.to_vec();
        if self
            .aead
            .open(&fields.nonce, &header[AAD], &mut out, &fields.tag)
        {
            Ok(out)
        } else {
            Err(CryptoError::AuthenticationFailed)
        }
    }
}

/// The fixed fields of a TRANSFORM_HEADER.
struct HeaderFields {
    tag: [u8; 16],
    nonce: [u8; 16],
    original_size: u32,
    flags: u16,
}

/// Parses exactly 52 header bytes; checks only the ProtocolId.
fn parse_header(header: &[u8]) -> Result<HeaderFields, CryptoError> {
    let h: &[u8; TRANSFORM_HEADER_SIZE] = header
        .try_into()
        .map_err(|_| CryptoError::Truncated(header.len()))?;
    let mut proto = [0u8; 4];
    proto.copy_from_slice(&h[..4]);
    if proto != TRANSFORM_PROTOCOL_ID {
        return Err(CryptoError::NotTransform(proto));
    }
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&h[SIG]);
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&h[NONCE]);
    let mut size = [0u8; 4];
    size.copy_from_slice(&h[ORIGINAL_SIZE]);
    let mut flags = [0u8; 2];
    flags.copy_from_slice(&h[FLAGS]);
    Ok(HeaderFields {
        tag,
        nonce,
        original_size: u32::from_le_bytes(size),
        flags: u16::from_le_bytes(flags),
    })
}

/// True if `frame` starts with the TRANSFORM_HEADER ProtocolId
/// `0xFD 'S' 'M' 'B'` (MS-SMB2 2.2.41).
pub fn is_transform(frame: &[u8]) -> bool {
    frame.starts_with(&TRANSFORM_PROTOCOL_ID)
}

/// The SessionId of a TRANSFORM message, read without decrypting (the server
/// needs it to find the session's key, MS-SMB2 3.3.5.2.1). `None` if `frame`
/// is not a TRANSFORM message or is shorter than its 52-byte header. The
/// value is unauthenticated until [`Decryptor::decrypt`] succeeds.
pub fn transform_session_id(frame: &[u8]) -> Option<u64> {
    if !is_transform(frame) {
        return None;
    }
    let mut sid = [0u8; 8];
    sid.copy_from_slice(frame.get(SESSION_ID)?);
    Some(u64::from_le_bytes(sid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;
    use std::collections::HashSet;

    const ALL: [Cipher; 4] = [
        Cipher::Aes128Ccm,
        Cipher::Aes128Gcm,
        Cipher::Aes256Ccm,
        Cipher::Aes256Gcm,
    ];

    fn key_for(c: Cipher) -> Vec<u8> {
        (0..c.key_len() as u8)
            .map(|i| i.wrapping_mul(13) ^ 0x5a)
            .collect()
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    fn nonce_field(frame: &[u8]) -> [u8; 16] {
        frame[NONCE].try_into().unwrap()
    }

    // ---- Known answers -------------------------------------------------
    //
    // SMB 3.0 (AES-128-CCM): Microsoft Open Specifications blog "Encryption in
    // SMB 3.0: A protocol perspective" (2012). The blog names keys from the
    // client's side: its EncryptionKey is our client_to_server.

    const SMB300_SESSION_KEY: &str = "B4546771B515F766A86735532DD6C4F0";
    const SMB300_SESSION_ID: u64 = 0x0008_E400_1400_0011;
    /// WRITE request the client encrypts with its EncryptionKey.
    const SMB300_WRITE_REQ: &str = "FE534D4240000100000000000900400008000000000000000400000000000000\
        FFFE0000010000001100001400E4080000000000000000000000000000000000\
        3100700017000000000000000000000015010000390000020100000039020000\
        00000000000000007000000000000000536D623320656E6372797074696F6E20\
        74657374696E67";
    const SMB300_WRITE_REQ_TRANSFORM: &str = "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A\
        744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5\
        2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4\
        4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5\
        AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6\
        C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB";
    /// WRITE response the server encrypts with its EncryptionKey (the
    /// client's DecryptionKey).
    const SMB300_WRITE_RESP_TRANSFORM: &str = "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014\
        00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079\
        E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787\
        1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1\
        77309E5B";
    const SMB300_WRITE_RESP: &str = "FE534D4240000100000000000900210009000000000000000400000000000000\
        FFFE0000010000001100001400E4080000000000000000000000000000000000\
        11000000170000000000000000000000";

    // SMB 3.1.1 (AES-128-GCM): Microsoft Open Specifications blog "SMB 3.1.1
    // Encryption in Windows 10" (2015).
    const SMB311_SESSION_KEY: &str = "419FDDF34C1E001909D362AE7FB6AF79";
    const SMB311_PREAUTH: &str = "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB\
        A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770";
    const SMB311_SESSION_ID: u64 = 0x1000_0000_0025;
    const SMB311_WRITE_REQ: &str = "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000\
        25000000001000000000000000000000000000000000000031007000170000000000000000000000\
        0600000004000000010000000400000000000000000000007000000000000000536D623320656E63\
        72797074696F6E2074657374696E67";
    const SMB311_WRITE_REQ_TRANSFORM: &str = "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000\
        0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02\
        D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4\
        4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9\
        1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8";
    const SMB311_WRITE_RESP_TRANSFORM: &str = "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000\
        00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8\
        F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B\
        82E03C9E18A050FF0EA1C967";
    const SMB311_WRITE_RESP: &str = "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000\
        25000000001000000000000000000000000000000000000011000000170000000000000000000000";

    fn preauth311() -> [u8; 64] {
        hex(SMB311_PREAUTH).try_into().unwrap()
    }

    #[test]
    fn smb300_key_derivation_published() {
        let k = derive_cipher_keys(
            Dialect::Smb300,
            Cipher::Aes128Ccm,
            &hex(SMB300_SESSION_KEY),
            None,
        );
        assert_eq!(k.client_to_server, hex("261B72350558F2E9DCF613070383EDBF"));
        assert_eq!(k.server_to_client, hex("8FE2B57EC34D2DB5B1A9727F526BBDB5"));
        // 3.0.2 derives the same way; the preauth hash is ignored.
        let h = preauth311();
        assert_eq!(
            derive_cipher_keys(
                Dialect::Smb302,
                Cipher::Aes128Ccm,
                &hex(SMB300_SESSION_KEY),
                Some(&h)
            ),
            k
        );
    }

    #[test]
    fn smb311_key_derivation_published() {
        let h = preauth311();
        let sk = hex(SMB311_SESSION_KEY);
        for c in [Cipher::Aes128Gcm, Cipher::Aes128Ccm] {
            let k = derive_cipher_keys(Dialect::Smb311, c, &sk, Some(&h));
            // Blog: client EncryptionKey (SMBC2SCipherKey) and DecryptionKey
            // (SMBS2CCipherKey).
            assert_eq!(k.client_to_server, hex("A2F5E80E5D59103034F32E52F698E5EC"));
            assert_eq!(k.server_to_client, hex("748C50868C90F302962A5C35F5F9A8BF"));
        }
    }

    #[test]
    fn smb311_key_derivation_agrees_with_session_keys() {
        // Same inputs as kdf.rs's smb311_vectors (signing blog).
        let sk = hex("270E1BA896585EEB7AF3472D3B4C75A7");
        let h: [u8; 64] = hex(
            "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB79\
             28622DDDAD522D9751640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
        )
        .try_into()
        .unwrap();
        let k = derive_cipher_keys(Dialect::Smb311, Cipher::Aes128Gcm, &sk, Some(&h));
        assert_eq!(k.client_to_server, hex("629BCBC54422A0F572B97F45989B6073"));
        assert_eq!(k.server_to_client, hex("E2AF0DCEFAC68DA71A0DFBD0D1350D74"));
        let s = crate::derive_session_keys(Dialect::Smb311, &sk.try_into().unwrap(), Some(&h));
        assert_eq!(k.client_to_server, s.decryption_c2s);
        assert_eq!(k.server_to_client, s.encryption_s2c);
    }

    #[test]
    fn smb311_aes256_key_derivation() {
        // No published vector; cross-checked with pyca/cryptography 48's
        // KBKDFHMAC (SHA-256, counter mode, rlen = llen = 4, counter before
        // the fixed input, label with its NUL, L = 256) on the inputs of the
        // "SMB 3.1.1 Encryption in Windows 10" blog, whose 128-bit keys the
        // same script reproduces.
        let h = preauth311();
        let sk16 = hex(SMB311_SESSION_KEY);
        for c in [Cipher::Aes256Gcm, Cipher::Aes256Ccm] {
            let k = derive_cipher_keys(Dialect::Smb311, c, &sk16, Some(&h));
            assert_eq!(
                k.client_to_server,
                hex("CB61EB110446FBCAEB6A83BEEDB92779130B833A706E5B3495879D52195B90ED")
            );
            assert_eq!(
                k.server_to_client,
                hex("F8CAE3069FFCDC7662E2941207AF463614D520A1A204AAF6B9EAD136DE931111")
            );
        }
        // A 32-byte (Kerberos AES-256) session key: AES-256 uses all of it
        // (FullSessionKey), AES-128 only its first 16 bytes (SessionKey).
        let sk32: Vec<u8> = (0x20..0x40).collect();
        let k = derive_cipher_keys(Dialect::Smb311, Cipher::Aes256Gcm, &sk32, Some(&h));
        assert_eq!(
            k.client_to_server,
            hex("3334A9F25E7DBDB8A342C07EBFBB2D26CC2FD6C04058EC2083CBA7D217A76848")
        );
        assert_eq!(
            k.server_to_client,
            hex("7330E611D89F8BD4D0EAF215A49FB02F13EECCC9237436EAAD62DFD1025C951C")
        );
        let k = derive_cipher_keys(Dialect::Smb311, Cipher::Aes128Gcm, &sk32, Some(&h));
        assert_eq!(k.client_to_server, hex("EF44DAD04DE49956035738A53AB35045"));
        assert_eq!(k.server_to_client, hex("137E5F5244B90821326403936E219D4C"));
        let k16 = derive_cipher_keys(Dialect::Smb311, Cipher::Aes128Gcm, &sk32[..16], Some(&h));
        assert_eq!(k, k16);
    }

    #[test]
    fn key_derivation_edge_cases() {
        let sk = [3u8; 16];
        // No encryption in SMB 2.x: empty keys, which no cipher accepts.
        let k = derive_cipher_keys(Dialect::Smb210, Cipher::Aes128Ccm, &sk, None);
        assert!(k.server_to_client.is_empty() && k.client_to_server.is_empty());
        assert!(Encryptor::new(Cipher::Aes128Ccm, &k.server_to_client, [0; 8]).is_err());
        assert!(Decryptor::new(Cipher::Aes128Ccm, &k.client_to_server).is_err());
        // 3.1.1 without a preauth hash uses a zero context.
        assert_eq!(
            derive_cipher_keys(Dialect::Smb311, Cipher::Aes128Gcm, &sk, None),
            derive_cipher_keys(Dialect::Smb311, Cipher::Aes128Gcm, &sk, Some(&[0u8; 64]))
        );
        // A short session key is right-padded with zeros for AES-128.
        let mut padded = [0u8; 16];
        padded[..5].copy_from_slice(&sk[..5]);
        assert_eq!(
            derive_cipher_keys(Dialect::Smb300, Cipher::Aes128Ccm, &sk[..5], None),
            derive_cipher_keys(Dialect::Smb300, Cipher::Aes128Ccm, &padded, None)
        );
        // Directions differ; lengths follow the cipher.
        for c in ALL {
            let k = derive_cipher_keys(Dialect::Smb311, c, &sk, None);
            assert_eq!(k.server_to_client.len(), c.key_len());
            assert_ne!(k.server_to_client, k.client_to_server);
        }
        assert_eq!(format!("{k:?}"), "CipherKeys { .. }");
    }

    #[test]
    fn smb300_ccm_published_frames() {
        let keys = derive_cipher_keys(
            Dialect::Smb300,
            Cipher::Aes128Ccm,
            &hex(SMB300_SESSION_KEY),
            None,
        );
        // Client to server: our decryptor opens the client's WRITE request,
        // and sealing it again with the same Nonce field (which Windows
        // filled past the 11-byte CCM nonce) gives the same bytes.
        let req_frame = hex(SMB300_WRITE_REQ_TRANSFORM);
        assert_eq!(transform_session_id(&req_frame), Some(SMB300_SESSION_ID));
        let d = Decryptor::new(Cipher::Aes128Ccm, &keys.client_to_server).unwrap();
        assert_eq!(d.decrypt(&req_frame).unwrap(), hex(SMB300_WRITE_REQ));
        let aead = Aead::new(Cipher::Aes128Ccm, &keys.client_to_server).unwrap();
        let sealed = seal_frame(
            &aead,
            &nonce_field(&req_frame),
            SMB300_SESSION_ID,
            &hex(SMB300_WRITE_REQ),
        )
        .unwrap();
        assert_eq!(sealed, req_frame);

        // Server to client: the WRITE response, both ways.
        let resp_frame = hex(SMB300_WRITE_RESP_TRANSFORM);
        let aead = Aead::new(Cipher::Aes128Ccm, &keys.server_to_client).unwrap();
        let sealed = seal_frame(
            &aead,
            &nonce_field(&resp_frame),
            SMB300_SESSION_ID,
            &hex(SMB300_WRITE_RESP),
        )
        .unwrap();
        assert_eq!(sealed, resp_frame);
        let d = Decryptor::new(Cipher::Aes128Ccm, &keys.server_to_client).unwrap();
        assert_eq!(d.decrypt(&resp_frame).unwrap(), hex(SMB300_WRITE_RESP));
        // The other direction's key does not open it.
        let wrong = Decryptor::new(Cipher::Aes128Ccm, &keys.client_to_server).unwrap();
        assert!(matches!(
            wrong.decrypt(&resp_frame),
            Err(CryptoError::AuthenticationFailed)
        ));
    }

    #[test]
    fn smb311_gcm_published_frames() {
        let keys = derive_cipher_keys(
            Dialect::Smb311,
            Cipher::Aes128Gcm,
            &hex(SMB311_SESSION_KEY),
            Some(&preauth311()),
        );
        let req_frame = hex(SMB311_WRITE_REQ_TRANSFORM);
        assert_eq!(transform_session_id(&req_frame), Some(SMB311_SESSION_ID));
        let d = Decryptor::new(Cipher::Aes128Gcm, &keys.client_to_server).unwrap();
        assert_eq!(d.decrypt(&req_frame).unwrap(), hex(SMB311_WRITE_REQ));
        let aead = Aead::new(Cipher::Aes128Gcm, &keys.client_to_server).unwrap();
        let sealed = seal_frame(
            &aead,
            &nonce_field(&req_frame),
            SMB311_SESSION_ID,
            &hex(SMB311_WRITE_REQ),
        )
        .unwrap();
        assert_eq!(sealed, req_frame);

        let resp_frame = hex(SMB311_WRITE_RESP_TRANSFORM);
        let aead = Aead::new(Cipher::Aes128Gcm, &keys.server_to_client).unwrap();
        let sealed = seal_frame(
            &aead,
            &nonce_field(&resp_frame),
            SMB311_SESSION_ID,
            &hex(SMB311_WRITE_RESP),
        )
        .unwrap();
        assert_eq!(sealed, resp_frame);
        let d = Decryptor::new(Cipher::Aes128Gcm, &keys.server_to_client).unwrap();
        assert_eq!(d.decrypt(&resp_frame).unwrap(), hex(SMB311_WRITE_RESP));
        // Same key as CCM does not open a GCM frame.
        let ccm = Decryptor::new(Cipher::Aes128Ccm, &keys.server_to_client).unwrap();
        assert!(ccm.decrypt(&resp_frame).is_err());
    }

    #[test]
    fn aes256_frames_match_pyca() {
        // Cross-checked with pyca/cryptography 48 (AESCCM with a 16-byte tag
        // and 11-byte nonce, AESGCM with a 12-byte nonce): key 00..1f, nonce
        // 00 01 02 .. (11 or 12 bytes) zero-padded to 16, the 3.1.1 blog's
        // WRITE request, its SessionId, AAD = header bytes 20..52.
        let key: Vec<u8> = (0..32).collect();
        let cases = [
            (
                Cipher::Aes256Ccm,
                "FD534D42F2F73173EE7C8D66BBEDFBE58D096AA6000102030405060708090A00000000008700000000\
                 00010025000000001000008D935C241A40B294BFF416B511C7DDDB54E4801AA75BAA252FF63972D5E4\
                 FC69DB99497F8566C0C1D58CE7004CF96977D4676958CA3F97407CD42C06F29598281D377A579E1C38\
                 884D6EA159B41927CB7F3C31E333AA7272CF5CDD645015F5119C6A0ECAE1A92A69FEBB1211055DC9CA\
                 9EDC60CBD81131955B61479E54295168D0394001287E5D",
            ),
            (
                Cipher::Aes256Gcm,
                "FD534D42999054519CD084B90F77B123A14BFA2B000102030405060708090A0B000000008700000000\
                 0001002500000000100000B9519B5985E5C31B8D41978BB8E9796D8BD68734F07B5F7C3D67E5851D69\
                 00B2FEEEAEFCAEC1129851A47FED88972838EE59608D5AD6A3DA3F972A1918E3F5EEC13CB67AC4D126\
                 611C54AA6EEF8F0EE83E8AC96272635368FCFD9ECC7CF0B98DCBF859E6A441C81AEE1C3EB24875217F\
                 E90A0098C3A04BF93F8627B9EB89002ECF3773B2DDB9AC",
            ),
        ];
        for (c, expected) in cases {
            let expected = hex(expected);
            let mut nf = [0u8; 16];
            for (i, b) in nf.iter_mut().take(c.nonce_len()).enumerate() {
                *b = i as u8;
            }
            let aead = Aead::new(c, &key).unwrap();
            let sealed = seal_frame(&aead, &nf, SMB311_SESSION_ID, &hex(SMB311_WRITE_REQ)).unwrap();
            assert_eq!(sealed, expected, "{c:?}");
            let d = Decryptor::new(c, &key).unwrap();
            assert_eq!(d.decrypt(&expected).unwrap(), hex(SMB311_WRITE_REQ));
        }
    }

    // ---- Properties ------------------------------------------------------

    #[test]
    fn cipher_ids() {
        for c in ALL {
            assert_eq!(Cipher::from_id(c.id()), Some(c));
        }
        assert_eq!(ALL.map(Cipher::id), [1, 2, 3, 4]);
        assert_eq!(ALL.map(Cipher::key_len), [16, 16, 32, 32]);
        assert_eq!(ALL.map(Cipher::nonce_len), [11, 12, 11, 12]);
        assert_eq!(Cipher::from_id(0), None);
        assert_eq!(Cipher::from_id(5), None);
        assert_eq!(Cipher::from_id(0xffff), None);
    }

    #[test]
    fn round_trip_all_ciphers() {
        for c in ALL {
            let key = key_for(c);
            let e = Encryptor::new(c, &key, [0xa5; 8]).unwrap();
            let d = Decryptor::new(c, &key).unwrap();
            assert_eq!(e.cipher(), c);
            assert_eq!(d.cipher(), c);
            for len in [1usize, 15, 16, 17, 64, 65, 1000, 70_000] {
                let msg = sample(len);
                let frame = e.encrypt(0x1122_3344_5566_7788, &msg);
                assert_eq!(frame.len(), TRANSFORM_HEADER_SIZE + len);
                assert!(is_transform(&frame));
                assert_eq!(&frame[..4], b"\xfdSMB");
                assert_eq!(frame[ORIGINAL_SIZE], (len as u32).to_le_bytes());
                assert_eq!(frame[40..42], [0, 0]);
                assert_eq!(frame[FLAGS], [1, 0]);
                assert_eq!(transform_session_id(&frame), Some(0x1122_3344_5566_7788));
                assert_ne!(frame[TRANSFORM_HEADER_SIZE..], msg[..], "{c:?} {len}");
                assert_eq!(d.decrypt(&frame).unwrap(), msg, "{c:?} {len}");
            }
        }
    }

    #[test]
    fn tampering_any_byte_is_rejected() {
        for c in ALL {
            let key = key_for(c);
            let e = Encryptor::new(c, &key, [1; 8]).unwrap();
            let d = Decryptor::new(c, &key).unwrap();
            let frame = e.encrypt(42, &sample(100));
            assert!(d.decrypt(&frame).is_ok());
            for i in 0..frame.len() {
                for bit in [0x01u8, 0x80] {
                    let mut bad = frame.clone();
                    bad[i] ^= bit;
                    let r = d.decrypt(&bad);
                    match i {
                        0..4 => assert!(matches!(r, Err(CryptoError::NotTransform(_)))),
                        36..40 => assert!(matches!(r, Err(CryptoError::SizeMismatch { .. }))),
                        42..44 => assert!(matches!(r, Err(CryptoError::BadFlags(_)))),
                        // Signature, Nonce, Reserved, SessionId, ciphertext.
                        _ => assert!(
                            matches!(r, Err(CryptoError::AuthenticationFailed)),
                            "{c:?} byte {i}: {r:?}"
                        ),
                    }
                }
            }
            // Appending or dropping ciphertext bytes breaks the size check.
            let mut longer = frame.clone();
            longer.push(0);
            assert!(matches!(
                d.decrypt(&longer),
                Err(CryptoError::SizeMismatch { .. })
            ));
            // A wrong key of the right length fails authentication.
            let mut other = key.clone();
            other[0] ^= 1;
            let d2 = Decryptor::new(c, &other).unwrap();
            assert!(matches!(
                d2.decrypt(&frame),
                Err(CryptoError::AuthenticationFailed)
            ));
        }
    }

    #[test]
    fn truncated_and_junk_input_never_panics() {
        for c in ALL {
            let key = key_for(c);
            let e = Encryptor::new(c, &key, [2; 8]).unwrap();
            let d = Decryptor::new(c, &key).unwrap();
            let frame = e.encrypt(7, &sample(80));
            for len in 0..frame.len() {
                let cut = &frame[..len];
                let r = d.decrypt(cut);
                if len <= TRANSFORM_HEADER_SIZE {
                    assert!(matches!(r, Err(CryptoError::Truncated(n)) if n == len));
                } else {
                    assert!(matches!(r, Err(CryptoError::SizeMismatch { .. })));
                }
                assert_eq!(
                    transform_session_id(cut).is_some(),
                    len >= TRANSFORM_HEADER_SIZE
                );
            }
            // A frame whose OriginalMessageSize was fixed up to match the cut
            // still fails authentication.
            let mut cut = frame[..TRANSFORM_HEADER_SIZE + 40].to_vec();
            cut[ORIGINAL_SIZE].copy_from_slice(&40u32.to_le_bytes());
            assert!(matches!(
                d.decrypt(&cut),
                Err(CryptoError::AuthenticationFailed)
            ));
            // Huge declared size.
            let mut huge = frame.clone();
            huge[ORIGINAL_SIZE].copy_from_slice(&u32::MAX.to_le_bytes());
            assert!(d.decrypt(&huge).is_err());
        }
        // Pseudo-random junk, with and without a valid-looking header.
        let d = Decryptor::new(Cipher::Aes128Gcm, &[0u8; 16]).unwrap();
        let mut x: u32 = 0x1234_5678;
        for round in 0..2000usize {
            let len = round % 200;
            let mut junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if round % 2 == 0 && len >= TRANSFORM_HEADER_SIZE {
                junk[..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
                junk[FLAGS].copy_from_slice(&1u16.to_le_bytes());
                let n = (len - TRANSFORM_HEADER_SIZE) as u32;
                junk[ORIGINAL_SIZE].copy_from_slice(&n.to_le_bytes());
            }
            assert!(d.decrypt(&junk).is_err());
            let _ = transform_session_id(&junk);
            let _ = is_transform(&junk);
        }
    }

    #[test]
    fn nonces_are_unique_and_padded() {
        for c in ALL {
            let key = key_for(c);
            let e = std::sync::Arc::new(Encryptor::new(c, &key, [0xff; 8]).unwrap());
            // The counter starts at the prefix and wraps; 0xff.. is the
            // worst case for carries.
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let e = e.clone();
                    std::thread::spawn(move || {
                        (0..2500)
                            .map(|_| nonce_field(&e.encrypt(1, b"same message")))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut seen = HashSet::new();
            for h in handles {
                for n in h.join().unwrap() {
                    assert!(n[c.nonce_len()..].iter().all(|&b| b == 0), "{c:?} padding");
                    assert!(seen.insert(n), "{c:?}: nonce repeated");
                }
            }
            assert_eq!(seen.len(), 10_000);
            // The same message encrypts differently each time.
            let a = e.encrypt(1, b"same message");
            let b = e.encrypt(1, b"same message");
            assert_ne!(a[SIG], b[SIG]);
            assert_ne!(a[TRANSFORM_HEADER_SIZE..], b[TRANSFORM_HEADER_SIZE..]);
        }
        // Encryptors with different prefixes start at different nonces.
        let k = key_for(Cipher::Aes128Gcm);
        let a = Encryptor::new(Cipher::Aes128Gcm, &k, [1; 8]).unwrap();
        let b = Encryptor::new(Cipher::Aes128Gcm, &k, [2; 8]).unwrap();
        assert_ne!(
            nonce_field(&a.encrypt(1, b"x")),
            nonce_field(&b.encrypt(1, b"x"))
        );
        assert_eq!(
            nonce_field(&a.encrypt(1, b"x"))[..8],
            [2, 1, 1, 1, 1, 1, 1, 1]
        );
    }

    #[test]
    fn bad_keys_and_helpers() {
        for c in ALL {
            for len in [0usize, 15, 17, 24, 31, 33] {
                if len == c.key_len() {
                    continue;
                }
                let k = vec![0u8; len];
                assert!(matches!(
                    Encryptor::new(c, &k, [0; 8]),
                    Err(CryptoError::InvalidKeyLength { expected, got, .. })
                        if expected == c.key_len() && got == len
                ));
                assert!(Decryptor::new(c, &k).is_err());
            }
        }
        assert!(!is_transform(b"\xfeSMB"));
        assert!(!is_transform(b"\xfdSM"));
        assert!(is_transform(b"\xfdSMB"));
        assert_eq!(transform_session_id(b"\xfdSMB"), None);
        let mut f = [0u8; 52];
        f[..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
        f[44..52].copy_from_slice(&0xdead_beefu64.to_le_bytes());
        assert_eq!(transform_session_id(&f), Some(0xdead_beef));
        f[0] = 0xfe;
        assert_eq!(transform_session_id(&f), None);

        let e = Encryptor::new(Cipher::Aes256Gcm, &[9u8; 32], [0; 8]).unwrap();
        assert_eq!(format!("{e:?}"), "Encryptor { cipher: Aes256Gcm, .. }");
        let d = Decryptor::new(Cipher::Aes128Ccm, &[9u8; 16]).unwrap();
        assert_eq!(format!("{d:?}"), "Decryptor { cipher: Aes128Ccm, .. }");
        assert_eq!(
            CryptoError::BadFlags(2).to_string(),
            "TRANSFORM_HEADER Flags/EncryptionAlgorithm is 0x0002, expected 0x0001"
        );

        fn send_sync<T: Send + Sync>() {}
        send_sync::<Encryptor>();
        send_sync::<Decryptor>();
        send_sync::<CryptoError>();
    }
}
