//! SESSION_SETUP and LOGOFF (MS-SMB2 3.3.5.5, 3.3.5.6): SPNEGO-wrapped or raw NTLMSSP,
//! NTLMv2 only, session keys per dialect.

use super::ctx::Ctx;
use crate::fault::Fault;
use super::reply::{empty_ok, HResult, Reply};
use crate::session::{AuthState, Identity, Session};
use crate::throttle::Admission;
use opportune_auth::spnego::{self, NegState};
use opportune_auth::{AuthError, AuthOutcome, NtHash, NtlmAcceptor, UserLookup};
use opportune_crypto::{derive_cipher_keys, derive_session_keys, Cipher, Decryptor, Dialect, Encryptor, Signer, SigningAlgorithm};
use opportune_types::time::filetime_from_system;
use opportune_types::NtStatus;
use opportune_wire::negotiate::{dialect, security_mode};
use opportune_wire::session::{session_flags, SessionSetupRequest, SessionSetupResponse, FLAG_BINDING};
use std::sync::Arc;

const NTLM_NEGOTIATE: u32 = 1;
const NTLM_AUTHENTICATE: u32 = 3;

/// The configured users, as the NTLM acceptor looks them up. An unknown name gets the
/// server's random dummy hash, so its proof is computed and compared exactly as a known
/// user's is and fails the same way: neither the time taken nor the answer tells a
/// wrong password from an unknown name. The name asked for is kept for logs and back-off.
struct Users<'a> {
    list: &'a [crate::config::UserConfig],
    dummy: NtHash,
    asked: std::cell::RefCell<Option<String>>,
}

impl UserLookup for Users<'_> {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<NtHash> {
        *self.asked.borrow_mut() = Some(user.to_string());
        let found = self.list.iter().find(|u| u.name.eq_ignore_ascii_case(user)).map(|u| u.nt_hash);
        Some(found.unwrap_or(self.dummy))
    }
}

/// Counts a logon whose credentials did not verify (guest-mapped or refused alike) for
/// the back-off, and says so in the log once the back-off applies.
fn note_failure(server: &crate::server::ServerState, peer: std::net::SocketAddr, user: &str) {
    crate::metrics::logon(false);
    let failures = server.throttle.record_failure(peer.ip(), user, server.now());
    if failures >= crate::throttle::FREE_FAILURES {
        tracing::warn!(%peer, user = %user.escape_debug(), failures, "repeated failed logons: answers delayed");
    }
}

/// Who a finished NTLM exchange makes the session, or why it is refused.
///
/// * A verified password: the user.
/// * An anonymous (null) logon: an anonymous session if guest access is on, else refused;
///   except that a session a user already established may re-authenticate as anonymous
///   (it lowers its own rights; smbtorture's reauth2-4 expect it of Windows and Samba).
/// * A name that does not verify, known or not: a guest session if guest access is on
///   (Samba's `map to guest = bad password`: a wrong password and an unknown name get the
///   same answer, so neither reveals which names exist), else STATUS_LOGON_FAILURE.
/// * A token that does not parse: STATUS_INVALID_PARAMETER; anything else refused.
fn identity_of(
    result: Result<AuthOutcome, AuthError>,
    guest: bool,
    reauth: bool,
) -> Result<(Identity, Option<[u8; 16]>), NtStatus> {
    match result {
        Ok(AuthOutcome::Authenticated { session_key, .. }) => Ok((Identity::User, Some(session_key))),
        Ok(AuthOutcome::Anonymous) if guest || reauth => Ok((Identity::Anonymous, None)),
        Ok(AuthOutcome::UnknownUser { .. }) | Err(AuthError::WrongPassword) if guest => Ok((Identity::Guest, None)),
        Ok(_) => Err(NtStatus::LOGON_FAILURE),
        Err(e) => Err(crate::fault::Fault::Auth(e).status()),
    }
}

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = SessionSetupRequest::decode(ctx.msg)?;
    if req.flags & FLAG_BINDING != 0 {
        return Ok(super::session_bind::refuse(ctx));
    }
    if ctx.hdr.session_id != 0 && !ctx.conn.sessions.contains_key(&ctx.hdr.session_id) {
        // A session of another connection (MS-SMB2 3.3.5.5.3): refused, and signed with that
        // session's key only when the request is validly signed with it, so the client can
        // trust the refusal and nobody else gets a signature made with that key.
        let mut reply = Reply::error(NtStatus::USER_SESSION_DELETED);
        reply.signer = super::session_bind::proven_signer(ctx);
        reply.unsigned = reply.signer.is_none();
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
        limit_pending_logons(ctx)?;
        crate::fd_budget::admit_one_more(ctx.conn.sessions.len(), ctx.server.config.max_sessions_per_connection)?;
        let id = ctx.server.new_session_id().map_err(|_| Fault::Resource("no session id left"))?;
        let preauth = ctx.conn.preauth.clone();
        ctx.conn.sessions.insert(id, Session::new(ntlm, preauth, ctx.server.now()));
        return Ok(id);
    }
    let session = ctx.conn.sessions.get(&sid).ok_or(NtStatus::USER_SESSION_DELETED)?;
    if session.is_valid() {
        let signature = ctx.verify_signature(session);
        ctx.note_signature(signature)?;
        let s = ctx.session()?;
        s.state = AuthState::InProgress { ntlm: Box::new(ntlm), spnego: false, mech_types: None };
    }
    Ok(sid)
}

/// At most `max_pending_logons` session setups may be in progress on a connection, and
/// one left half-way for `logon_timeout` is forgotten (docs/SECURITY.md): a peer cannot
/// pile up NTLM exchanges it never finishes.
fn limit_pending_logons(ctx: &mut Ctx<'_>) -> Result<(), NtStatus> {
    let limits = &ctx.server.config.limits;
    let now = ctx.server.now();
    let sessions = &mut ctx.conn.sessions;
    sessions.retain(|_, s| !s.is_half_open() || now.saturating_duration_since(s.started) < limits.logon_timeout);
    let in_progress = sessions.values().filter(|s| s.is_half_open()).count();
    if in_progress >= limits.max_pending_logons {
        tracing::debug!(conn = ctx.conn.id, in_progress, "too many logons in progress");
        return Err(Fault::Resource("too many logons in progress").into());
    }
    Ok(())
}

fn new_acceptor(ctx: &Ctx<'_>) -> Result<NtlmAcceptor, NtStatus> {
    let mut challenge = [0u8; 8];
    ctx.server.random_bytes(&mut challenge)?;
    let name = &ctx.server.config.server_name;
    Ok(NtlmAcceptor::new(challenge, name, &name.to_ascii_lowercase(), filetime_from_system(ctx.server.wall())))
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
    let client_negotiate_mode = ctx.conn.negotiated.as_ref().map_or(0, |n| n.client_security_mode);
    let session = ctx.conn.sessions.get_mut(&sid).ok_or(NtStatus::USER_SESSION_DELETED)?;
    let AuthState::InProgress { ntlm, spnego: is_spnego, mech_types } = &mut session.state else {
        return Err(NtStatus::INVALID_PARAMETER);
    };
    let list = ctx.server.users();
    let users = Users { list: &list, dummy: ctx.server.dummy_hash, asked: Default::default() };
    let result = ntlm.authenticate(&token.ntlm, &users);
    let user = users.asked.take().unwrap_or_default();
    let verified = matches!(result, Ok(AuthOutcome::Authenticated { .. }));
    let anonymous = matches!(result, Ok(AuthOutcome::Anonymous));
    let peer = ctx.conn.peer;
    match ctx.server.throttle.admit(peer.ip(), &user, ctx.server.now()) {
        Admission::After(d) if !d.is_zero() => ctx.conn.answer_delay = Some(d),
        Admission::After(_) => {}
        Admission::Refuse => {
            tracing::warn!(session = sid, %peer, user = %user.escape_debug(), "logon refused: too many failed logons waiting");
            return Err(NtStatus::ACCOUNT_LOCKED_OUT);
        }
    }
    if let Err(e) = &result {
        tracing::info!(session = sid, %peer, user = %user.escape_debug(), error = %e, "authentication failed");
    }
    if !verified && !anonymous {
        note_failure(ctx.server, peer, &user);
    }
    let reauth = session.signer.is_some() || !session.user.is_empty();
    let (identity, key) = identity_of(result, config.guest, reauth)?;
    let user = if verified || identity == Identity::Guest { user } else { String::new() };
    let mut mic = None;
    if let (Some(client_mic), Some(types), true) = (&token.mech_list_mic, mech_types.as_ref(), verified) {
        if !ntlm.mic_verify(types, client_mic) {
            return Err(NtStatus::LOGON_FAILURE);
        }
        mic = ntlm.mic_sign(types);
    }
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
            let (enc, dec) = cipher_keys(d, cipher, &key, preauth.as_ref(), &*ctx.server.entropy)?;
            session.encryptor = Some(Arc::new(enc));
            session.decryptor = Some(Arc::new(dec));
        }
        session.signing_required = signing_required(config.signing_required, client_negotiate_mode, req.security_mode);
    }
    session.encrypt_data = session_encryption(config.encryption, session)?;
    session.state = AuthState::Valid;
    session.established = true;
    session.identity = identity;
    session.token = Arc::new(ctx.server.directory().token(identity, &user));
    if config.unix_identity {
        session.unix = Some(crate::unix_id::resolve(&ctx.server.users(), &ctx.server.directory().groups, identity, &user));
    }
    let info = crate::session::SessionInfo {
        conn: ctx.conn.id,
        user: user.clone(),
        dialect: dialect_rev,
        signing_algorithm: alg,
        cipher: ctx.conn.negotiated.as_ref().map_or(0, |n| n.cipher),
        signer: session.signer.clone(),
        identity,
        token: session.token.clone(),
        unix: session.unix.clone().and_then(Result::ok),
    };
    session.user = user;
    session.preauth = None;
    tracing::info!(session = sid, user = ?session.user, ?identity, "session established");
    crate::metrics::logon(true);
    let mut flags = match identity {
        Identity::User => 0,
        Identity::Guest => session_flags::IS_GUEST,
        Identity::Anonymous => session_flags::IS_NULL,
    };
    if session.encrypt_data {
        flags |= session_flags::ENCRYPT_DATA;
    }
    let mut reply = response(NtStatus::SUCCESS, flags, &buf);
    let owner = info.owner().map(str::to_owned);
    ctx.server.register_session(sid, info);
    if identity == Identity::User && (dialect_rev >= dialect::SMB300 || session.signing_required) {
        reply.signer = session.signer.clone();
    }
    expire_previous(ctx, req.previous_session_id, sid, owner.as_deref());
    Ok(reply)
}

/// Session.SigningRequired of a user session (MS-SMB2 3.3.5.5.3): the server asks for it,
/// or the client did, in its NEGOTIATE (3.3.5.4: remembered on the connection) or in this
/// SESSION_SETUP. Either of the client's requests suffices: a man-in-the-middle can clear
/// the SESSION_SETUP bit before 3.1.1, and must not thereby turn signing off.
fn signing_required(server: bool, negotiate_mode: u16, setup_mode: u8) -> bool {
    let bit = security_mode::SIGNING_REQUIRED;
    server || negotiate_mode & bit != 0 || u16::from(setup_mode) & bit != 0
}

/// Session.EncryptData (MS-SMB2 3.3.5.5.3): set when the server asks for encryption and
/// the session has keys to encrypt with (an SMB 3.x user session with a cipher); when the
/// server requires it (RejectUnencryptedAccess), a session without them is refused.
fn session_encryption(policy: crate::config::Encryption, session: &Session) -> Result<bool, NtStatus> {
    let can_encrypt = session.encryptor.is_some();
    if policy.rejects_unencrypted() && !can_encrypt {
        return Err(NtStatus::ACCESS_DENIED);
    }
    Ok(session.encrypt_data || (policy.asks() && can_encrypt))
}

/// The session's encryption and decryption keys (MS-SMB2 3.3.5.5.3).
fn cipher_keys(
    d: Dialect,
    cipher: Cipher,
    key: &[u8; 16],
    preauth: Option<&[u8; 64]>,
    entropy: &dyn crate::entropy::Entropy,
) -> Result<(Encryptor, Decryptor), crate::fault::Fault> {
    let keys = derive_cipher_keys(d, cipher, key, preauth);
    let mut prefix = [0u8; 8];
    entropy.fill(&mut prefix)?;
    let enc = Encryptor::new(cipher, &keys.server_to_client, prefix)?;
    let dec = Decryptor::new(cipher, &keys.client_to_server)?;
    Ok((enc, dec))
}

/// MS-SMB2 3.3.5.5.3: a client that reconnects names its previous session, which is then
/// logged off (its opens closed) on whatever connection still holds it, if both sessions
/// are the same proven user (guests and anonymous sessions never match).
fn expire_previous(ctx: &Ctx<'_>, previous: u64, current: u64, user: Option<&str>) {
    if previous == 0 || previous == current {
        return;
    }
    let old = ctx.server.global_session(previous);
    if let Some(old) = old.filter(|g| crate::session::same_user(g.owner(), user)) {
        ctx.server.locks.send_to(old.conn, crate::locking::ConnEvent::ExpireSession { session: previous, why: "replaced by a reconnect" });
    }
}

fn response(status: NtStatus, flags: u16, buf: &[u8]) -> Reply {
    let mut body = Vec::with_capacity(9 + buf.len());
    SessionSetupResponse { session_flags: flags, security_buffer: buf }.encode(&mut body);
    Reply::with_status(status, body)
}

/// LOGOFF (MS-SMB2 3.3.5.6): closes the session's opens and trees.
pub fn logoff(ctx: &mut Ctx<'_>) -> HResult {
    opportune_wire::session::decode_empty(ctx.msg)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticated() -> Result<AuthOutcome, AuthError> {
        Ok(AuthOutcome::Authenticated { user: "u".into(), domain: String::new(), session_key: [7; 16] })
    }

    #[test]
    fn wrong_passwords_and_unknown_names_map_alike() {
        let unknown = || Ok(AuthOutcome::UnknownUser { user: "x".into(), domain: String::new() });
        for guest in [false, true] {
            let wrong = identity_of(Err(AuthError::WrongPassword), guest, false);
            assert_eq!(wrong, identity_of(unknown(), guest, false), "guest = {guest}");
        }
        assert_eq!(identity_of(Err(AuthError::WrongPassword), true, false), Ok((Identity::Guest, None)));
        assert_eq!(identity_of(Err(AuthError::WrongPassword), false, false), Err(NtStatus::LOGON_FAILURE));
        assert_eq!(identity_of(authenticated(), false, false), Ok((Identity::User, Some([7; 16]))));
        assert_eq!(identity_of(Err(AuthError::BadMic), true, false), Err(NtStatus::LOGON_FAILURE));
        assert_eq!(identity_of(Err(AuthError::Malformed("x")), true, false), Err(NtStatus::INVALID_PARAMETER));
    }

    #[test]
    fn null_sessions_need_guest_access_or_an_established_session() {
        assert_eq!(identity_of(Ok(AuthOutcome::Anonymous), false, false), Err(NtStatus::LOGON_FAILURE));
        assert_eq!(identity_of(Ok(AuthOutcome::Anonymous), true, false), Ok((Identity::Anonymous, None)));
        assert_eq!(identity_of(Ok(AuthOutcome::Anonymous), false, true), Ok((Identity::Anonymous, None)));
    }

    #[test]
    fn signing_is_required_if_anyone_asks() {
        let req = security_mode::SIGNING_REQUIRED;
        assert!(!signing_required(false, security_mode::SIGNING_ENABLED, 1));
        assert!(signing_required(true, 0, 0));
        assert!(signing_required(false, req, 1), "NEGOTIATE's bit alone");
        assert!(signing_required(false, 1, req as u8), "SESSION_SETUP's bit alone");
    }
}
