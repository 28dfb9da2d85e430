//! SESSION_SETUP and LOGOFF (MS-SMB2 3.3.5.5, 3.3.5.6): SPNEGO-wrapped or raw NTLMSSP,
//! NTLMv2 only, session keys per dialect.

use super::{empty_ok, Ctx, HResult, Reply};
use crate::session::{AuthState, Identity, Session};
use opportune_auth::spnego::{self, NegState};
use opportune_auth::{AuthError, AuthOutcome, NtHash, NtlmAcceptor, UserLookup};
use opportune_crypto::{derive_cipher_keys, derive_session_keys, Cipher, Decryptor, Dialect, Encryptor, Signer, SigningAlgorithm};
use opportune_types::time::filetime_from_system;
use opportune_types::NtStatus;
use opportune_wire::negotiate::{dialect, security_mode};
use opportune_wire::session::{session_flags, SessionSetupRequest, SessionSetupResponse, FLAG_BINDING};
use std::sync::Arc;
use std::time::SystemTime;

const NTLM_NEGOTIATE: u32 = 1;
const NTLM_AUTHENTICATE: u32 = 3;

struct Users<'a>(&'a [crate::config::UserConfig]);

impl UserLookup for Users<'_> {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<NtHash> {
        self.0.iter().find(|u| u.name.eq_ignore_ascii_case(user)).map(|u| u.nt_hash)
    }
}

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = SessionSetupRequest::decode(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    if req.flags & FLAG_BINDING != 0 {
        return Ok(super::session_bind::refuse(ctx));
    }
    if ctx.hdr.session_id != 0 && !ctx.conn.sessions.contains_key(&ctx.hdr.session_id) {
        // A session of another connection (MS-SMB2 3.3.5.5.3): refused, and signed with that
        // session's key when the request was, so the client can trust the refusal.
        let mut reply = Reply::error(NtStatus::USER_SESSION_DELETED);
        if ctx.hdr.is_signed() {
            let global = ctx.server.global_session(ctx.hdr.session_id).and_then(|g| g.signer);
            reply.signer = global.filter(|s| s.verify(ctx.msg));
        }
        return Ok(reply);
    }
    let sid = session_for(ctx)?;
    let result = step(ctx, sid, &req);
    if result.as_ref().is_err_and(|s| *s != NtStatus::MORE_PROCESSING_REQUIRED) {
        // MS-SMB2 3.3.5.5.3: a failed authentication removes the session, and with it
        // its opens, as a LOGOFF would (a re-authentication can fail on a live session).
        super::close::close_session_opens(ctx.server, ctx.conn, sid, None);
        ctx.conn.sessions.remove(&sid);
        ctx.server.forget_session(sid);
    }
    result.map(|mut r| {
        r.session_id = sid;
        r
    })
}

/// Finds the session the request continues, or starts a new one (also for re-authentication).
fn session_for(ctx: &mut Ctx<'_>) -> Result<u64, NtStatus> {
    let ntlm = new_acceptor(ctx)?;
    let sid = ctx.hdr.session_id;
    if sid == 0 {
        crate::limits::admit_one_more(ctx.conn.sessions.len(), ctx.server.config.max_sessions_per_connection)?;
        let id = ctx.server.next_id();
        let preauth = ctx.conn.preauth.clone();
        ctx.conn.sessions.insert(id, Session::new(ntlm, preauth));
        return Ok(id);
    }
    let session = ctx.conn.sessions.get(&sid).ok_or(NtStatus::USER_SESSION_DELETED)?;
    if session.is_valid() {
        ctx.verify_signature(session)?;
        let s = ctx.session()?;
        s.state = AuthState::InProgress { ntlm: Box::new(ntlm), spnego: false, mech_types: None };
    }
    Ok(sid)
}

fn new_acceptor(ctx: &Ctx<'_>) -> Result<NtlmAcceptor, NtStatus> {
    let mut challenge = [0u8; 8];
    crate::server::random_bytes(&mut challenge).map_err(|_| NtStatus::INTERNAL_ERROR)?;
    let name = &ctx.server.config.server_name;
    Ok(NtlmAcceptor::new(challenge, name, &name.to_ascii_lowercase(), filetime_from_system(SystemTime::now())))
}

fn step(ctx: &mut Ctx<'_>, sid: u64, req: &SessionSetupRequest<'_>) -> HResult {
    let token = spnego::parse_client_token(req.security_buffer).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let msg = ctx.msg;
    let session = ctx.conn.sessions.get_mut(&sid).ok_or(NtStatus::USER_SESSION_DELETED)?;
    if let Some(p) = session.preauth.as_mut() {
        p.update(msg);
    }
    let kind = token.ntlm.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    match kind {
        Some(NTLM_NEGOTIATE) => challenge(session, token),
        Some(NTLM_AUTHENTICATE) => authenticate(ctx, sid, req, token),
        _ => Err(NtStatus::LOGON_FAILURE),
    }
}

fn challenge(session: &mut Session, token: spnego::ClientToken) -> HResult {
    let AuthState::InProgress { ntlm, spnego: is_spnego, mech_types } = &mut session.state else {
        return Err(NtStatus::INVALID_PARAMETER);
    };
    let challenge = ntlm.challenge(&token.ntlm).map_err(|_| NtStatus::LOGON_FAILURE)?;
    *is_spnego = token.spnego;
    *mech_types = token.mech_types_der;
    let buf = if token.spnego {
        spnego::server_response(NegState::AcceptIncomplete, true, Some(&challenge), None)
    } else {
        challenge
    };
    Ok(response(NtStatus::MORE_PROCESSING_REQUIRED, 0, &buf))
}

fn authenticate(ctx: &mut Ctx<'_>, sid: u64, req: &SessionSetupRequest<'_>, token: spnego::ClientToken) -> HResult {
    let config = &ctx.server.config;
    let dialect_rev = ctx.conn.dialect();
    let alg = ctx.conn.negotiated.as_ref().and_then(|n| n.signing_algorithm).unwrap_or(SigningAlgorithm::AesCmac);
    let cipher_id = ctx.conn.cipher_id();
    let session = ctx.conn.sessions.get_mut(&sid).ok_or(NtStatus::USER_SESSION_DELETED)?;
    let AuthState::InProgress { ntlm, spnego: is_spnego, mech_types } = &mut session.state else {
        return Err(NtStatus::INVALID_PARAMETER);
    };
    let outcome = ntlm.authenticate(&token.ntlm, &Users(&config.users)).map_err(|e| {
        tracing::info!(session = sid, error = %e, "authentication failed");
        match e {
            AuthError::Malformed(_) => NtStatus::INVALID_PARAMETER,
            _ => NtStatus::LOGON_FAILURE,
        }
    })?;
    let (identity, user, key) = match outcome {
        AuthOutcome::Authenticated { user, session_key, .. } => (Identity::User, user, Some(session_key)),
        AuthOutcome::UnknownUser { user, .. } if config.guest => (Identity::Guest, user, None),
        AuthOutcome::UnknownUser { user, .. } => {
            tracing::info!(session = sid, user, "unknown user");
            return Err(NtStatus::LOGON_FAILURE);
        }
        AuthOutcome::Anonymous => (Identity::Anonymous, String::new(), None),
    };
    let mut mic = None;
    if let (Some(client_mic), Some(types)) = (&token.mech_list_mic, mech_types.as_ref()) {
        if !ntlm.mic_verify(types, client_mic) {
            return Err(NtStatus::LOGON_FAILURE);
        }
        mic = ntlm.mic_sign(types);
    }
    let reauth = session.signer.is_some() || !session.user.is_empty();
    let buf = if *is_spnego {
        spnego::server_response(NegState::AcceptCompleted, false, None, mic.as_ref().map(|m| &m[..]))
    } else {
        Vec::new()
    };
    if let (Some(key), false) = (key, reauth) {
        let d = Dialect::from_revision(dialect_rev).unwrap_or(Dialect::Smb202);
        let preauth = session.preauth.as_ref().map(|p| *p.value());
        let keys = derive_session_keys(d, &key, preauth.as_ref());
        session.signer = Some(Arc::new(Signer::new(alg, keys.signing)));
        if let Some(cipher) = Cipher::from_id(cipher_id) {
            let (enc, dec) = cipher_keys(d, cipher, &key, preauth.as_ref())?;
            session.encryptor = Some(Arc::new(enc));
            session.decryptor = Some(Arc::new(dec));
        }
        session.signing_required =
            config.signing_required || req.security_mode & security_mode::SIGNING_REQUIRED as u8 != 0;
    }
    session.state = AuthState::Valid;
    session.identity = identity;
    let info = crate::session::SessionInfo {
        conn: ctx.conn.id,
        user: user.clone(),
        dialect: dialect_rev,
        signing_algorithm: alg,
        cipher: ctx.conn.negotiated.as_ref().map_or(0, |n| n.cipher),
        signer: session.signer.clone(),
        identity,
    };
    session.user = user;
    session.preauth = None;
    tracing::info!(session = sid, user = ?session.user, ?identity, "session established");
    let flags = match identity {
        Identity::User => 0,
        Identity::Guest => session_flags::IS_GUEST,
        Identity::Anonymous => session_flags::IS_NULL,
    };
    let mut reply = response(NtStatus::SUCCESS, flags, &buf);
    let user = info.user.clone();
    ctx.server.register_session(sid, info);
    if identity == Identity::User && (dialect_rev >= dialect::SMB300 || session.signing_required) {
        reply.signer = session.signer.clone();
    }
    expire_previous(ctx, req.previous_session_id, sid, &user);
    Ok(reply)
}

/// The session's encryption and decryption keys (MS-SMB2 3.3.5.5.3).
fn cipher_keys(
    d: Dialect,
    cipher: Cipher,
    key: &[u8; 16],
    preauth: Option<&[u8; 64]>,
) -> Result<(Encryptor, Decryptor), NtStatus> {
    let keys = derive_cipher_keys(d, cipher, key, preauth);
    let mut prefix = [0u8; 8];
    crate::server::random_bytes(&mut prefix).map_err(|_| NtStatus::INTERNAL_ERROR)?;
    let enc = Encryptor::new(cipher, &keys.server_to_client, prefix).map_err(|_| NtStatus::INTERNAL_ERROR)?;
    let dec = Decryptor::new(cipher, &keys.client_to_server).map_err(|_| NtStatus::INTERNAL_ERROR)?;
    Ok((enc, dec))
}

/// MS-SMB2 3.3.5.5.3: a client that reconnects names its previous session, which is then
/// logged off (its opens closed) on whatever connection still holds it.
fn expire_previous(ctx: &Ctx<'_>, previous: u64, current: u64, user: &str) {
    if previous == 0 || previous == current {
        return;
    }
    if let Some(old) = ctx.server.global_session(previous).filter(|g| g.user.eq_ignore_ascii_case(user)) {
        ctx.server.locks.send_to(old.conn, crate::locking::ConnEvent::ExpireSession { session: previous });
    }
}

fn response(status: NtStatus, flags: u16, buf: &[u8]) -> Reply {
    let mut body = Vec::with_capacity(9 + buf.len());
    SessionSetupResponse { session_flags: flags, security_buffer: buf }.encode(&mut body);
    Reply::with_status(status, body)
}

/// LOGOFF (MS-SMB2 3.3.5.6): closes the session's opens and trees.
pub fn logoff(ctx: &mut Ctx<'_>) -> HResult {
    opportune_wire::session::decode_empty(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let sid = ctx.hdr.session_id;
    let signer = ctx.session()?.signer.clone();
    super::close::close_session_opens(ctx.server, ctx.conn, sid, None);
    ctx.conn.sessions.remove(&sid);
    ctx.server.forget_session(sid);
    let mut r = empty_ok();
    if ctx.hdr.is_signed() {
        r.signer = signer;
    }
    Ok(r)
}
