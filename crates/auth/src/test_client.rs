//! A small NTLMv2 client (MS-NLMP 3.1.5) for tests only: builds NEGOTIATE and
//! AUTHENTICATE messages and computes the client's view of the keys.

use crate::NtHash;
use crate::ntlm_msg::{SIGNATURE, av, flags, le16, le32, utf16le};
use crate::ntlm_sign::{Direction, Way, hmac_md5_parts, ntowf_v2, rc4_oneshot};

/// Flags a Windows 10 client typically sends.
pub const CLIENT_FLAGS: u32 = 0xe208_8297;

pub fn negotiate(flags: u32) -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&[0u8; 16]); // empty domain and workstation fields
    m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
    m
}

pub struct ClientOptions<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    pub nt_hash: NtHash,
    pub client_challenge: [u8; 8],
    pub time: u64,
    pub random_session_key: [u8; 16],
    pub with_mic: bool,
    /// Domain used in NTOWFv2 (normally the same as `domain`).
    pub hash_domain: Option<&'a str>,
}

impl<'a> ClientOptions<'a> {
    pub fn new(user: &'a str, domain: &'a str, password: &str) -> Self {
        ClientOptions {
            user,
            domain,
            nt_hash: NtHash::from_password(password),
            client_challenge: [0xaa; 8],
            time: 0x01d9_0000_0000_0000,
            random_session_key: [0x55; 16],
            with_mic: true,
            hash_domain: None,
        }
    }
}

pub struct ClientResult {
    pub message: Vec<u8>,
    pub exported_session_key: [u8; 16],
    pub flags: u32,
}

fn field(chal: &[u8], at: usize) -> &[u8] {
    let len = le16(chal, at).unwrap() as usize;
    let off = le32(chal, at + 4).unwrap() as usize;
    &chal[off..off + len]
}

/// Builds the AUTHENTICATE_MESSAGE for `negotiate` + `challenge`
/// (MS-NLMP 3.1.5.1.2, 3.3.2).
pub fn authenticate(negotiate: &[u8], challenge: &[u8], o: &ClientOptions<'_>) -> ClientResult {
    let chal_flags = le32(challenge, 20).unwrap();
    let server_challenge: [u8; 8] = challenge[24..32].try_into().unwrap();
    let target_info = field(challenge, 40);
    // Client's AV pairs: the server's, with MsvAvFlags before EOL.
    let mut pairs = target_info[..target_info.len() - 4].to_vec();
    if o.with_mic {
        pairs.extend_from_slice(&av::FLAGS.to_le_bytes());
        pairs.extend_from_slice(&4u16.to_le_bytes());
        pairs.extend_from_slice(&av::FLAG_MIC_PRESENT.to_le_bytes());
    }
    pairs.extend_from_slice(&[0, 0, 0, 0]);
    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&o.time.to_le_bytes());
    blob.extend_from_slice(&o.client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&pairs);
    blob.extend_from_slice(&[0; 4]);

    let key = ntowf_v2(&o.nt_hash, o.user, o.hash_domain.unwrap_or(o.domain));
    let proof = hmac_md5_parts(&key, &[&server_challenge, &blob]);
    let base = hmac_md5_parts(&key, &[&proof]);
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&blob);
    let key_exch = chal_flags & flags::KEY_EXCH != 0;
    let mut enc = o.random_session_key;
    let exported = if key_exch {
        rc4_oneshot(&base, &mut enc);
        o.random_session_key
    } else {
        base
    };

    let unicode = chal_flags & flags::UNICODE != 0;
    let enc_str = |s: &str| {
        if unicode {
            utf16le(s)
        } else {
            s.as_bytes().to_vec()
        }
    };
    let lm = vec![0u8; 24];
    let payload: [Vec<u8>; 6] = [
        lm,
        nt,
        enc_str(o.domain),
        enc_str(o.user),
        enc_str("WS"),
        if key_exch { enc.to_vec() } else { Vec::new() },
    ];
    let mut m = assemble(chal_flags, &payload);
    if o.with_mic {
        let mic = hmac_md5_parts(&exported, &[negotiate, challenge, &m]);
        m[72..88].copy_from_slice(&mic);
    }
    ClientResult {
        message: m,
        exported_session_key: exported,
        flags: chal_flags,
    }
}

/// Lays out an AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) with a zero MIC from
/// LM, NT, domain, user, workstation and encrypted-session-key fields.
pub fn assemble(flags: u32, payload: &[Vec<u8>; 6]) -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut off = 88u32;
    for p in payload {
        m.extend_from_slice(&(p.len() as u16).to_le_bytes());
        m.extend_from_slice(&(p.len() as u16).to_le_bytes());
        m.extend_from_slice(&off.to_le_bytes());
        off += p.len() as u32;
    }
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
    m.extend_from_slice(&[0u8; 16]); // MIC
    for p in payload {
        m.extend_from_slice(p);
    }
    m
}

/// The client's integrity state: signs with client-to-server keys, checks
/// server-to-client ones.
pub struct ClientSecurity {
    pub send: Direction,
    pub recv: Direction,
}

impl ClientSecurity {
    pub fn new(r: &ClientResult) -> Self {
        ClientSecurity {
            send: Direction::new(&r.exported_session_key, r.flags, Way::ClientToServer).unwrap(),
            recv: Direction::new(&r.exported_session_key, r.flags, Way::ServerToClient).unwrap(),
        }
    }
}
