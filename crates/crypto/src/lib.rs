//! SMB2/SMB3 message signing, key derivation, the SMB 3.1.1 preauth
//! integrity hash and SMB 3.x encryption (MS-SMB2 3.1.4.1, 3.1.4.2,
//! 3.1.4.3, 3.3.5.2.1, 3.3.5.4, 3.3.5.5; TRANSFORM_HEADER 2.2.41).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod encryption;
mod kdf;
mod preauth;
mod signing;

pub use encryption::{
    Cipher, CipherKeys, CryptoError, Decryptor, Encryptor, TRANSFORM_FLAG_ENCRYPTED,
    TRANSFORM_HEADER_SIZE, TRANSFORM_PROTOCOL_ID, derive_cipher_keys, is_transform,
    transform_session_id,
};
pub use kdf::{SessionKeys, derive_session_keys, kdf};
pub use preauth::PreauthHash;
pub use signing::Signer;

/// SMB2 dialect of a connection, as far as key derivation and signing care
/// (MS-SMB2 2.2.3 dialect revision numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// 0x0202
    Smb202,
    /// 0x0210
    Smb210,
    /// 0x0300
    Smb300,
    /// 0x0302
    Smb302,
    /// 0x0311
    Smb311,
}

impl Dialect {
    /// Maps a wire dialect revision (MS-SMB2 2.2.3) to a dialect; `None` for
    /// unknown values and the 0x02FF wildcard.
    pub fn from_revision(rev: u16) -> Option<Dialect> {
        match rev {
            0x0202 => Some(Dialect::Smb202),
            0x0210 => Some(Dialect::Smb210),
            0x0300 => Some(Dialect::Smb300),
            0x0302 => Some(Dialect::Smb302),
            0x0311 => Some(Dialect::Smb311),
            _ => None,
        }
    }

    /// The wire dialect revision (MS-SMB2 2.2.3).
    pub fn revision(self) -> u16 {
        match self {
            Dialect::Smb202 => 0x0202,
            Dialect::Smb210 => 0x0210,
            Dialect::Smb300 => 0x0300,
            Dialect::Smb302 => 0x0302,
            Dialect::Smb311 => 0x0311,
        }
    }

    /// True for the SMB 3.x family (keys come from the SP800-108 KDF).
    pub fn is_smb3(self) -> bool {
        matches!(self, Dialect::Smb300 | Dialect::Smb302 | Dialect::Smb311)
    }

    /// The signing algorithm a dialect uses when no SMB2_SIGNING_CAPABILITIES
    /// context was negotiated (MS-SMB2 3.1.4.1): HMAC-SHA256 for 2.x,
    /// AES-CMAC for 3.x.
    pub fn default_signing_algorithm(self) -> SigningAlgorithm {
        if self.is_smb3() {
            SigningAlgorithm::AesCmac
        } else {
            SigningAlgorithm::HmacSha256
        }
    }
}

/// Signing algorithm (MS-SMB2 2.2.3.1.7 ids: 0 HMAC-SHA256, 1 AES-CMAC,
/// 2 AES-GMAC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 truncated to 16 bytes (SMB 2.0.2 / 2.1).
    HmacSha256,
    /// AES-128-CMAC (SMB 3.x).
    AesCmac,
    /// AES-128-GMAC (SMB 3.1.1 with SMB2_SIGNING_CAPABILITIES).
    AesGmac,
}

impl SigningAlgorithm {
    /// Maps a SigningAlgorithms id from SMB2_SIGNING_CAPABILITIES
    /// (MS-SMB2 2.2.3.1.7).
    pub fn from_id(id: u16) -> Option<SigningAlgorithm> {
        match id {
            0 => Some(SigningAlgorithm::HmacSha256),
            1 => Some(SigningAlgorithm::AesCmac),
            2 => Some(SigningAlgorithm::AesGmac),
            _ => None,
        }
    }

    /// The SigningAlgorithms id (MS-SMB2 2.2.3.1.7).
    pub fn id(self) -> u16 {
        match self {
            SigningAlgorithm::HmacSha256 => 0,
            SigningAlgorithm::AesCmac => 1,
            SigningAlgorithm::AesGmac => 2,
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    /// Decodes hex, ignoring whitespace. Test-only.
    pub fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(digits.len().is_multiple_of(2), "odd hex length");
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    pub fn hex16(s: &str) -> [u8; 16] {
        hex(s).try_into().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in 0..4u16 {
            if let Some(a) = SigningAlgorithm::from_id(id) {
                assert_eq!(a.id(), id);
            }
        }
        assert_eq!(SigningAlgorithm::from_id(3), None);
        for rev in [0x0202, 0x0210, 0x0300, 0x0302, 0x0311] {
            assert_eq!(
                Dialect::from_revision(rev).map(Dialect::revision),
                Some(rev)
            );
        }
        assert_eq!(Dialect::from_revision(0x02ff), None);
        assert_eq!(
            Dialect::Smb210.default_signing_algorithm(),
            SigningAlgorithm::HmacSha256
        );
        assert_eq!(
            Dialect::Smb311.default_signing_algorithm(),
            SigningAlgorithm::AesCmac
        );
    }
}
