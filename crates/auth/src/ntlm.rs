//! The server side of one NTLM exchange (MS-NLMP 3.2.5 server,
//! connection-oriented; 3.3.2 NTLMv2 verification).

use subtle::ConstantTimeEq;

use crate::ntlm_msg::{self, MIC_END, MIC_OFFSET, av, flags};
use crate::ntlm_sign::{Direction, Way, hmac_md5_parts, ntowf_v2, rc4_oneshot};
use crate::{AuthError, AuthOutcome, UserLookup};

/// Length of NTProofStr and of the fixed NTLMv2_CLIENT_CHALLENGE header
/// before its AV pairs (MS-NLMP 2.2.2.7, 2.2.2.8).
const PROOF_LEN: usize = 16;
const BLOB_HEADER_LEN: usize = 28;
/// An NTLMv1 (or NTLMv1 with ESS) NT response is exactly 24 bytes.
const NTLMV1_RESPONSE_LEN: usize = 24;

/// Flags the server echoes when the client asks for them (MS-NLMP 3.2.5.1.1).
const ECHOED: u32 = flags::SIGN
    | flags::SEAL
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::NEG_128
    | flags::NEG_56
    | flags::KEY_EXCH
    | flags::VERSION;

enum State {
    Initial,
    ChallengeSent {
        negotiate: Vec<u8>,
        challenge: Vec<u8>,
    },
    Done,
}

/// One NTLM exchange on the server side (MS-NLMP 3.2.5,
/// connection-oriented). Create one per SESSION_SETUP sequence.
pub struct NtlmAcceptor {
    server_challenge: [u8; 8],
    nb_computer: String,
    nb_domain: String,
    dns_computer: String,
    dns_domain: String,
    now_filetime: u64,
    state: State,
    /// Server-to-client and client-to-server integrity state after success.
    send: Option<Direction>,
    recv: Option<Direction>,
}

impl NtlmAcceptor {
    /// `server_challenge` is 8 random bytes (the caller draws them).
    /// `netbios_name` / `dns_name` go into the TargetInfo AV pairs as
    /// MsvAvNbComputerName / MsvAvDnsComputerName, and (for a standalone
    /// server, see [`NtlmAcceptor::with_domain`]) as MsvAvNbDomainName /
    /// MsvAvDnsDomainName; MsvAvTimestamp is `now_filetime`
    /// (100 ns since 1601-01-01 UTC). The timestamp makes clients send a MIC
    /// (MS-NLMP 3.1.5.1.2), which protects the exchange end to end.
    pub fn new(
        server_challenge: [u8; 8],
        netbios_name: &str,
        dns_name: &str,
        now_filetime: u64,
    ) -> Self {
        NtlmAcceptor {
            server_challenge,
            nb_computer: netbios_name.to_string(),
            nb_domain: netbios_name.to_string(),
            dns_computer: dns_name.to_string(),
            dns_domain: dns_name.to_string(),
            now_filetime,
            state: State::Initial,
            send: None,
            recv: None,
        }
    }

    /// Sets the NetBIOS and DNS domain names advertised in TargetName and
    /// TargetInfo (defaults: the computer names, as a standalone server).
    pub fn with_domain(mut self, netbios_domain: &str, dns_domain: &str) -> Self {
        self.nb_domain = netbios_domain.to_string();
        self.dns_domain = dns_domain.to_string();
        self
    }

    /// Takes the client's NEGOTIATE_MESSAGE and returns the
    /// CHALLENGE_MESSAGE (MS-NLMP 3.2.5.1.1). Answers NTLM, TARGET_INFO,
    /// REQUEST_TARGET and TARGET_TYPE_SERVER always; UNICODE (else OEM),
    /// SIGN, SEAL, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, 128, 56, KEY_EXCH
    /// and VERSION when the client asked for them. LM_KEY is never answered.
    pub fn challenge(&mut self, negotiate: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !matches!(self.state, State::Initial) {
            return Err(AuthError::State("NEGOTIATE after CHALLENGE"));
        }
        let client = ntlm_msg::parse_negotiate(negotiate)?;
        let mut out =
            flags::NTLM | flags::TARGET_INFO | flags::REQUEST_TARGET | flags::TARGET_TYPE_SERVER;
        out |= client & ECHOED;
        let unicode = client & flags::UNICODE != 0 || client & flags::OEM == 0;
        out |= if unicode { flags::UNICODE } else { flags::OEM };

        let target_name = if unicode {
            ntlm_msg::utf16le(&self.nb_domain)
        } else {
            self.nb_domain
                .chars()
                .map(|c| u8::try_from(c).unwrap_or(b'?'))
                .collect()
        };
        let info = ntlm_msg::build_target_info(
            &self.nb_computer,
            &self.nb_domain,
            &self.dns_computer,
            &self.dns_domain,
            self.now_filetime,
        );
        let challenge = ntlm_msg::build_challenge(out, &self.server_challenge, &target_name, &info);
        self.state = State::ChallengeSent {
            negotiate: negotiate.to_vec(),
            challenge: challenge.clone(),
        };
        Ok(challenge)
    }

    /// Takes the AUTHENTICATE_MESSAGE and verifies it (MS-NLMP 3.2.5.1.2,
    /// 3.3.2): anonymous detection; NTLMv1/LM-only refusal; NTProofStr
    /// check in constant time, first with the domain as sent, then with an
    /// empty domain; SessionBaseKey; KEY_EXCH decryption; MIC check when the
    /// client's MsvAvFlags announce one. One call per exchange.
    pub fn authenticate(
        &mut self,
        authenticate: &[u8],
        users: &dyn UserLookup,
    ) -> Result<AuthOutcome, AuthError> {
        let (negotiate, challenge) = match std::mem::replace(&mut self.state, State::Done) {
            State::ChallengeSent {
                negotiate,
                challenge,
            } => (negotiate, challenge),
            State::Initial => {
                self.state = State::Initial;
                return Err(AuthError::State("AUTHENTICATE before CHALLENGE"));
            }
            State::Done => return Err(AuthError::State("AUTHENTICATE twice")),
        };
        let msg = ntlm_msg::parse_authenticate(authenticate)?;
        let nt = msg.nt_response;

        // MS-NLMP 3.2.5.1.2: anonymous is a null user with empty NT response
        // and an empty or Z(1) LM response.
        if msg.user.is_empty()
            && nt.is_empty()
            && (msg.lm_response.is_empty() || msg.lm_response == [0])
        {
            return Ok(AuthOutcome::Anonymous);
        }
        if nt.len() == NTLMV1_RESPONSE_LEN {
            return Err(AuthError::Unsupported("NTLMv1 response"));
        }
        if nt.is_empty() {
            return Err(AuthError::Unsupported("LM-only response"));
        }
        let (proof, blob) = nt
            .split_at_checked(PROOF_LEN)
            .ok_or(AuthError::Malformed("NTLMv2 response too short"))?;
        // NTLMv2_CLIENT_CHALLENGE: RespType 1, HiRespType 1, ... then AV pairs.
        let pairs = blob
            .get(BLOB_HEADER_LEN..)
            .ok_or(AuthError::Malformed("NTLMv2 response too short"))?;
        if blob.first() != Some(&1) || blob.get(1) != Some(&1) {
            return Err(AuthError::Unsupported("unknown NTLMv2 response version"));
        }
        let mic_present = ntlm_msg::av_flags(pairs)? & av::FLAG_MIC_PRESENT != 0;
        if mic_present && authenticate.len() < MIC_END {
            return Err(AuthError::Malformed("AUTHENTICATE too short for its MIC"));
        }

        let Some(nt_hash) = users.nt_hash(&msg.user, &msg.domain) else {
            return Ok(AuthOutcome::UnknownUser {
                user: msg.user,
                domain: msg.domain,
            });
        };
        let mut response_key = None;
        let domains: &[&str] = if msg.domain.is_empty() {
            &[""]
        } else {
            &[&msg.domain, ""]
        };
        for dom in domains {
            let key = ntowf_v2(&nt_hash, &msg.user, dom);
            let expected = hmac_md5_parts(&key, &[&self.server_challenge, blob]);
            if bool::from(expected.ct_eq(proof)) {
                response_key = Some(key);
                break;
            }
        }
        let Some(response_key) = response_key else {
            return Err(AuthError::WrongPassword);
        };

        // MS-NLMP 3.3.2: SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr);
        // for NTLMv2 KeyExchangeKey = SessionBaseKey.
        let key_exchange_key = hmac_md5_parts(&response_key, &[proof]);
        let exported = if msg.flags & flags::KEY_EXCH != 0 {
            let mut k: [u8; 16] = msg
                .encrypted_session_key
                .try_into()
                .map_err(|_| AuthError::Malformed("EncryptedRandomSessionKey is not 16 bytes"))?;
            rc4_oneshot(&key_exchange_key, &mut k);
            k
        } else {
            key_exchange_key
        };

        if mic_present {
            let mut zeroed = authenticate.to_vec();
            if let Some(m) = zeroed.get_mut(MIC_OFFSET..MIC_END) {
                m.fill(0);
            }
            let expected = hmac_md5_parts(&exported, &[&negotiate, &challenge, &zeroed]);
            let got = authenticate.get(MIC_OFFSET..MIC_END).unwrap_or(&[]);
            if !bool::from(expected.ct_eq(got)) {
                return Err(AuthError::BadMic);
            }
        }

        self.send = Direction::new(&exported, msg.flags, Way::ServerToClient);
        self.recv = Direction::new(&exported, msg.flags, Way::ClientToServer);
        Ok(AuthOutcome::Authenticated {
            user: msg.user,
            domain: msg.domain,
            session_key: exported,
        })
    }

    /// NTLMSSP signature of `msg` with the server-to-client keys
    /// (MS-NLMP 3.4.4.2, extended session security), as used for the
    /// SPNEGO mechListMIC. `None` before a successful `authenticate` or when
    /// extended session security was not negotiated. Each call advances the
    /// sequence number (and RC4 state under KEY_EXCH).
    pub fn mic_sign(&mut self, msg: &[u8]) -> Option<[u8; 16]> {
        self.send.as_mut().map(|d| d.mac(msg))
    }

    /// Checks a client-to-server NTLMSSP signature over `msg`
    /// (MS-NLMP 3.4.4.2) in constant time. False before a successful
    /// `authenticate`, when extended session security was not negotiated,
    /// or when `mic` is not a 16-byte matching signature. Advances the
    /// client-to-server sequence number either way.
    pub fn mic_verify(&mut self, msg: &[u8], mic: &[u8]) -> bool {
        let Some(d) = self.recv.as_mut() else {
            return false;
        };
        let expected = d.mac(msg);
        mic.len() == expected.len() && bool::from(expected.ct_eq(mic))
    }
}

#[cfg(test)]
#[path = "ntlm_tests.rs"]
pub(crate) mod tests;
