//! SESSION_SETUP with SMB2_SESSION_FLAG_BINDING (MS-SMB2 3.3.5.5, 3.3.5.5.2): a second
//! channel for an existing session. Every check of the spec is applied in order, so a
//! client learns exactly why its binding is refused; the binding itself is then refused
//! with STATUS_REQUEST_NOT_ACCEPTED because multichannel is not offered yet.

use super::ctx::Ctx;
use super::reply::Reply;
use crate::session::Identity;
use opportune_crypto::SigningAlgorithm;
use opportune_types::NtStatus;
use opportune_wire::negotiate::dialect;

/// The refusal of a binding request, signed with the session's key only when the request
/// carries a valid signature made with that key (the client checks the signature of the
/// answer). A requester that has not proven the key never gets a message signed with it:
/// that would be a signing oracle for someone else's session.
pub fn refuse(ctx: &Ctx<'_>) -> Reply {
    let status = refusal(ctx);
    let mut reply = Reply::error(status);
    reply.signer = proven_signer(ctx);
    reply.unsigned = reply.signer.is_none();
    reply
}

/// The signer of the session a request names, if the request is signed with its key
/// (MS-SMB2 3.3.5.2.4).
pub fn proven_signer(ctx: &Ctx<'_>) -> Option<std::sync::Arc<opportune_crypto::Signer>> {
    if !ctx.hdr.is_signed() {
        return None;
    }
    ctx.server.global_session(ctx.hdr.session_id)?.signer.filter(|s| s.verify(ctx.msg))
}

fn refusal(ctx: &Ctx<'_>) -> NtStatus {
    let sid = ctx.hdr.session_id;
    if sid == 0 {
        return NtStatus::INVALID_PARAMETER;
    }
    let Some(global) = ctx.server.global_session(sid) else {
        return NtStatus::USER_SESSION_DELETED;
    };
    let neg = ctx.conn.negotiated.as_ref();
    let conn_alg = neg.and_then(|n| n.signing_algorithm).unwrap_or(SigningAlgorithm::HmacSha256);
    // Sessions signed with AES-GMAC bind only over connections that sign the same way.
    if global.signing_algorithm == SigningAlgorithm::AesGmac && conn_alg != global.signing_algorithm {
        return NtStatus::REQUEST_OUT_OF_SEQUENCE;
    }
    if conn_alg == SigningAlgorithm::AesGmac && global.signing_algorithm != conn_alg {
        return NtStatus::NOT_SUPPORTED;
    }
    if ctx.conn.dialect() < dialect::SMB300 {
        return NtStatus::REQUEST_NOT_ACCEPTED;
    }
    // A binding request must be signed with the session's key (3.3.5.2.4).
    match &global.signer {
        Some(s) if ctx.hdr.is_signed() => {
            if !s.verify(ctx.msg) {
                return NtStatus::ACCESS_DENIED;
            }
        }
        _ => return NtStatus::INVALID_PARAMETER,
    }
    if global.dialect != ctx.conn.dialect() || global.cipher != ctx.conn.cipher_id() {
        return NtStatus::INVALID_PARAMETER;
    }
    if global.conn == ctx.conn.id {
        return NtStatus::REQUEST_NOT_ACCEPTED;
    }
    if global.identity != Identity::User {
        return NtStatus::NOT_SUPPORTED;
    }
    NtStatus::REQUEST_NOT_ACCEPTED
}
