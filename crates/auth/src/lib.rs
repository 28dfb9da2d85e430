//! Server-side authentication for Opportune: an NTLMv2 acceptor (MS-NLMP)
//! and the SPNEGO token handling around it (RFC 4178, MS-SPNG).
//!
//! Users are known by their NT hash (MD4 of the UTF-16LE password), never by
//! plaintext. Everything that parses client bytes returns an error instead of
//! panicking.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod der;
mod ntlm;
mod ntlm_msg;
mod ntlm_sign;
pub mod spnego;
/// A minimal NTLMv2 client for tests (this crate's and the server's integration tests).
#[cfg(any(test, feature = "test-client"))]
#[allow(missing_docs, private_interfaces)]
pub mod test_client;

use md4::{Digest, Md4};

pub use ntlm::NtlmAcceptor;

/// An NT one-way function value, NTOWFv1 (MS-NLMP 3.3.1):
/// `MD4(UNICODE(password))`. This is what user databases store.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NtHash(pub [u8; 16]);

impl NtHash {
    /// `MD4(UTF-16LE(password))` (MS-NLMP 3.3.1 NTOWFv1).
    pub fn from_password(password: &str) -> NtHash {
        let mut h = Md4::new();
        for unit in password.encode_utf16() {
            h.update(unit.to_le_bytes());
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize());
        NtHash(out)
    }
}

impl core::fmt::Debug for NtHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NtHash(..)")
    }
}

/// What the server knows about the user named in an AUTHENTICATE message.
/// `user` and `domain` are as the client sent them; case-insensitive
/// matching, if wanted, is the implementation's job.
pub trait UserLookup {
    /// The NT hash of `user`, or `None` if the user is unknown.
    fn nt_hash(&self, user: &str, domain: &str) -> Option<NtHash>;
}

impl<F> UserLookup for F
where
    F: Fn(&str, &str) -> Option<NtHash>,
{
    fn nt_hash(&self, user: &str, domain: &str) -> Option<NtHash> {
        self(user, domain)
    }
}

/// Result of a completed NTLM exchange.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// NTLMv2 response verified. `session_key` is the exported session key
    /// (after KEY_EXCH decryption if negotiated): the SMB2 session key.
    Authenticated {
        /// User name as the client sent it.
        user: String,
        /// Domain name as the client sent it.
        domain: String,
        /// ExportedSessionKey (MS-NLMP 3.2.5.1.2).
        session_key: [u8; 16],
    },
    /// Anonymous (null user, empty NT response and empty or single-zero-byte
    /// LM response; MS-NLMP 3.2.5.1.2, 3.3.2). No session key.
    Anonymous,
    /// The user name is not known (lookup returned None). The server decides
    /// whether to map to guest.
    UnknownUser {
        /// User name as the client sent it.
        user: String,
        /// Domain name as the client sent it.
        domain: String,
    },
}

impl core::fmt::Debug for AuthOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuthOutcome::Authenticated { user, domain, .. } => f
                .debug_struct("Authenticated")
                .field("user", user)
                .field("domain", domain)
                .finish_non_exhaustive(),
            AuthOutcome::Anonymous => f.write_str("Anonymous"),
            AuthOutcome::UnknownUser { user, domain } => f
                .debug_struct("UnknownUser")
                .field("user", user)
                .field("domain", domain)
                .finish(),
        }
    }
}

/// Why an exchange failed. Every variant maps to STATUS_LOGON_FAILURE (or
/// STATUS_INVALID_PARAMETER for `Malformed`) on the wire; the detail is for
/// logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token does not parse.
    #[error("malformed authentication token: {0}")]
    Malformed(&'static str),
    /// The NTLMv2 proof did not verify: wrong password (or wrong domain).
    #[error("wrong password")]
    WrongPassword,
    /// Something valid but refused, e.g. NTLMv1 or LM-only responses.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The password verified but the AUTHENTICATE MIC did not: the exchange
    /// was tampered with (MS-NLMP 3.2.5.1.2).
    #[error("NTLM message integrity check failed")]
    BadMic,
    /// A method was called out of order (e.g. authenticate before
    /// challenge, or twice).
    #[error("NTLM exchange out of order: {0}")]
    State(&'static str),
}

#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_hash_of_password() {
        // MS-NLMP 4.2.4.1.1 uses NTOWFv1("Password") underneath NTOWFv2.
        assert_eq!(
            NtHash::from_password("Password").0[..],
            hex("a4f49c406510bdcab6824ee7c30fd852")[..]
        );
        assert_eq!(
            NtHash::from_password("").0[..],
            hex("31d6cfe0d16ae931b73c59d7e0c089c0")[..]
        );
        assert_eq!(format!("{:?}", NtHash([1; 16])), "NtHash(..)");
    }

    #[test]
    fn closure_lookup() {
        let f = |u: &str, _d: &str| (u == "a").then_some(NtHash([0; 16]));
        assert!(f.nt_hash("a", "").is_some());
        assert!(f.nt_hash("b", "").is_none());
    }

    #[test]
    fn outcome_debug_hides_key() {
        let o = AuthOutcome::Authenticated {
            user: "u".into(),
            domain: "d".into(),
            session_key: [0xAB; 16],
        };
        assert!(!format!("{o:?}").contains("171"));
    }
}
