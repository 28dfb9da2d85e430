//! NEGOTIATE (MS-SMB2 3.3.5.3, 3.3.5.4) and FSCTL_VALIDATE_NEGOTIATE_INFO (3.3.5.15.12).

use super::ctx::Ctx;
use super::reply::Reply;
use crate::conn_state::{ConnState, Negotiated};
use crate::server::ServerState;
use opportune_crypto::{Cipher, PreauthHash, SigningAlgorithm};
use opportune_types::time::filetime_from_system;
use opportune_types::NtStatus;
use opportune_wire::negotiate::{
    capabilities, context_type, dialect, id_list, parse_id_list, parse_preauth, preauth_context, security_mode,
    NegotiateRequest, NegotiateResponse, HASH_SHA512,
};

/// Dialects served, best first.
const SERVED: [u16; 5] = [dialect::SMB311, dialect::SMB302, dialect::SMB300, dialect::SMB210, dialect::SMB202];
/// Largest payload for SMB 2.0.2, which has no multi-credit requests.
const SMB202_MAX_IO: u32 = 65536;

pub fn handle(ctx: &mut Ctx<'_>) -> Reply {
    // A second NEGOTIATE on a connection is a protocol violation (3.3.5.3.1).
    if ctx.conn.negotiated.as_ref().is_some_and(|n| n.dialect != dialect::WILDCARD) {
        return Reply::fault(crate::fault::Fault::ProtocolViolation("second NEGOTIATE"));
    }
    let Ok(req) = NegotiateRequest::decode(ctx.msg) else {
        return Reply::error(NtStatus::INVALID_PARAMETER);
    };
    let Some(&chosen) = SERVED.iter().find(|d| req.dialects.contains(d)) else {
        ctx.conn.closing = true;
        return Reply::error(NtStatus::NOT_SUPPORTED);
    };
    let mut neg = Negotiated {
        dialect: chosen,
        client_guid: req.client_guid,
        client_capabilities: req.capabilities,
        client_security_mode: req.security_mode,
        client_dialects: req.dialects.clone(),
        server_capabilities: server_capabilities(ctx.server, chosen, req.capabilities),
        server_security_mode: server_security_mode(ctx.server),
        signing_algorithm: None,
        cipher: 0,
    };
    let mut contexts = Vec::new();
    // SMB 3.0 and 3.0.2 announce encryption by capability, with AES-128-CCM (3.3.5.4).
    if matches!(chosen, dialect::SMB300 | dialect::SMB302) && req.capabilities & capabilities::ENCRYPTION != 0 {
        neg.server_capabilities |= capabilities::ENCRYPTION;
        neg.cipher = Cipher::Aes128Ccm.id();
    }
    if chosen == dialect::SMB311 {
        match negotiate_contexts(&req, &mut neg, &*ctx.server.entropy) {
            Ok(c) => contexts = c,
            Err(status) => return Reply::error(status),
        }
    }
    neg.signing_algorithm = Some(neg.signing_algorithm.unwrap_or(match chosen {
        dialect::SMB202 | dialect::SMB210 => SigningAlgorithm::HmacSha256,
        _ => SigningAlgorithm::AesCmac,
    }));
    let resp = response(ctx.server, &neg, contexts);
    let mut body = Vec::with_capacity(256);
    resp.encode(&mut body);
    if chosen == dialect::SMB311 {
        let mut h = PreauthHash::new();
        h.update(ctx.msg);
        ctx.conn.preauth = Some(h);
        ctx.conn.pending_preauth_response = true;
    }
    ctx.conn.negotiated = Some(neg);
    Reply::ok(body)
}

/// MS-SMB2 3.3.5.4: LEASING and LARGE_MTU from SMB 2.1; DIRECTORY_LEASING from SMB 3.0
/// when directory leases are on and the client announced it too (as Samba does: some
/// clients, impacket among them, misbehave when a server they did not ask offers it).
fn server_capabilities(server: &ServerState, d: u16, client: u32) -> u32 {
    let mut caps = if d >= dialect::SMB210 { capabilities::LARGE_MTU | capabilities::LEASING } else { 0 };
    let asked = client & capabilities::DIRECTORY_LEASING != 0;
    if d >= dialect::SMB300 && asked && server.config.directory_leases && server.config.enable_oplocks {
        caps |= capabilities::DIRECTORY_LEASING;
    }
    caps
}

fn server_security_mode(server: &ServerState) -> u16 {
    let required = if server.config.signing_required { security_mode::SIGNING_REQUIRED } else { 0 };
    security_mode::SIGNING_ENABLED | required
}

/// MS-SMB2 3.3.5.4: preauth integrity is mandatory; a signing algorithm is picked from the
/// client's list; encryption is not offered, so its context is not answered.
fn negotiate_contexts(req: &NegotiateRequest<'_>, neg: &mut Negotiated, entropy: &dyn crate::entropy::Entropy) -> Result<Vec<(u16, Vec<u8>)>, NtStatus> {
    let mut preauth_ok = false;
    let mut encryption_asked = false;
    let mut out = Vec::new();
    for c in &req.contexts {
        match c.context_type {
            context_type::PREAUTH_INTEGRITY => {
                if preauth_ok {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let (algs, _) = parse_preauth(c.data)?;
                if !algs.contains(&HASH_SHA512) {
                    return Err(NtStatus::SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP);
                }
                preauth_ok = true;
            }
            context_type::SIGNING => {
                let ids = parse_id_list(c.data)?;
                let pick = [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac, SigningAlgorithm::HmacSha256]
                    .into_iter()
                    .find(|a| ids.contains(&a.id()));
                neg.signing_algorithm = Some(pick.unwrap_or(SigningAlgorithm::AesCmac));
            }
            context_type::ENCRYPTION => {
                let ids = parse_id_list(c.data)?;
                // Preference: AES-128-GCM, AES-128-CCM, AES-256-GCM, AES-256-CCM; 0 = none in common.
                neg.cipher = [Cipher::Aes128Gcm, Cipher::Aes128Ccm, Cipher::Aes256Gcm, Cipher::Aes256Ccm]
                    .into_iter()
                    .map(Cipher::id)
                    .find(|id| ids.contains(id))
                    .unwrap_or(0);
                encryption_asked = true;
            }
            _ => {}
        }
    }
    if !preauth_ok {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let mut salt = [0u8; 32];
    entropy.fill(&mut salt)?;
    out.push((context_type::PREAUTH_INTEGRITY, preauth_context(&salt)));
    if encryption_asked {
        out.push((context_type::ENCRYPTION, id_list(&[neg.cipher])));
    }
    if let Some(alg) = neg.signing_algorithm {
        out.push((context_type::SIGNING, id_list(&[alg.id()])));
    }
    Ok(out)
}

fn response(server: &ServerState, neg: &Negotiated, contexts: Vec<(u16, Vec<u8>)>) -> NegotiateResponse {
    let max_io = if neg.dialect >= dialect::SMB210 { server.config.max_io_size } else { SMB202_MAX_IO };
    NegotiateResponse {
        security_mode: neg.server_security_mode,
        dialect: neg.dialect,
        server_guid: server.server_guid,
        capabilities: neg.server_capabilities,
        max_transact_size: max_io,
        max_read_size: max_io,
        max_write_size: max_io,
        system_time: filetime_from_system(server.wall()),
        server_start_time: 0,
        security_buffer: opportune_auth::spnego::negotiate_hint(),
        contexts,
    }
}

/// The SMB2 NEGOTIATE response to an SMB1 NEGOTIATE (MS-SMB2 3.3.5.3.1).
pub fn smb1_upgrade_response(server: &ServerState, conn: &mut ConnState, d: u16) -> Vec<u8> {
    let neg = Negotiated {
        dialect: d,
        server_capabilities: server_capabilities(server, d, 0),
        server_security_mode: server_security_mode(server),
        signing_algorithm: Some(SigningAlgorithm::HmacSha256),
        ..Negotiated::default()
    };
    let mut body = Vec::new();
    response(server, &neg, Vec::new()).encode(&mut body);
    // 0x02FF asks the client to negotiate again; 0x0202 is final.
    if d == dialect::SMB202 {
        conn.negotiated = Some(neg);
    } else {
        conn.negotiated = Some(Negotiated { dialect: dialect::WILDCARD, ..neg });
    }
    body
}

/// FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12): the client's view of the negotiation
/// must match ours; a mismatch drops the connection.
pub fn validate_negotiate(conn: &ConnState, server: &ServerState, input: &[u8]) -> Result<Vec<u8>, NtStatus> {
    let neg = conn.negotiated.as_ref().ok_or(NtStatus::INVALID_PARAMETER)?;
    if neg.dialect == dialect::SMB311 {
        return Err(NtStatus::FILE_CLOSED);
    }
    let mut r = opportune_wire::cursor::Reader::new(input, 0);
    let parsed = (|| -> Result<_, opportune_wire::WireError> {
        let caps = r.u32()?;
        let guid = r.array::<16>()?;
        let mode = r.u16()?;
        let n = usize::from(r.u16()?);
        let dialects = (0..n).map(|_| r.u16()).collect::<Result<Vec<_>, _>>()?;
        Ok((caps, guid, mode, dialects))
    })();
    let (caps, guid, mode, dialects) = parsed?;
    if caps != neg.client_capabilities
        || guid != neg.client_guid
        || mode != neg.client_security_mode
        || dialects != neg.client_dialects
    {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let mut out = Vec::with_capacity(24);
    use opportune_wire::cursor::Put;
    out.put_u32(neg.server_capabilities);
    out.extend_from_slice(&server.server_guid);
    out.put_u16(neg.server_security_mode);
    out.put_u16(neg.dialect);
    Ok(out)
}
