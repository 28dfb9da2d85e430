//! What went wrong, in one type: the NTSTATUS it is answered with and whether it ends the
//! connection, each decided here once.
//!
//! The connection task's functions (`frames.rs`, `outbox.rs`, `events.rs`,
//! `connection.rs`) and the dispatcher's frame-level checks return a `Fault` only to end
//! the connection: at that level no request is left to answer, and the connection loop
//! logs the fault once and closes. Where a request could be answered instead (a handler's
//! `Reply`, `handlers/reply.rs`), [`Fault::ends_connection`] decides, and a fault that
//! does not end the connection is answered with [`Fault::status`]. Handlers themselves
//! fail with an `NtStatus` and `?`: file-system and decode errors convert on their own
//! (`From<FsError>`, `From<WireError>`), and so does a `Fault` (`From<Fault> for NtStatus`).
//!
//! Where MS-SMB2 says the server disconnects:
//! - 3.3.5.2: a message shorter than an SMB2 header, or whose header or compound chain
//!   (NextCommand) does not parse: [`Fault::Malformed`];
//! - 3.3.5.2.1: a TRANSFORM message whose session is unknown or that does not decrypt:
//!   [`Fault::Malformed`];
//! - 3.3.5.2.1.1: a decrypted message for a session other than the one whose key
//!   decrypted it: [`Fault::ProtocolViolation`];
//! - 3.3.5.2.3: a MessageId outside the credit window: [`Fault::ProtocolViolation`];
//! - 3.3.5.3.1: a second NEGOTIATE: [`Fault::ProtocolViolation`] (so is any other request
//!   before the first, and an SMB1 NEGOTIATE that offers no SMB2 dialect or follows one);
//! - 3.3.5.15.12: FSCTL_VALIDATE_NEGOTIATE_INFO that does not match what was negotiated:
//!   [`Fault::ProtocolViolation`].

use crate::server_error::ServerError;
use opportune_auth::AuthError;
use opportune_crypto::CryptoError;
use opportune_fs::FsError;
use opportune_types::NtStatus;
use opportune_wire::WireError;
use std::fmt;

#[derive(Debug)]
pub enum Fault {
    /// Bytes that are not a well-formed SMB2 frame, header or compound chain, or a
    /// TRANSFORM message that does not decrypt (MS-SMB2 3.3.5.2, 3.3.5.2.1). Ends the
    /// connection.
    Malformed(&'static str),
    /// A well-formed message the protocol forbids here: outside the credit window, a second
    /// NEGOTIATE, a frame over the size accepted, a failed negotiate validation. Ends the
    /// connection.
    ProtocolViolation(&'static str),
    /// A file-system operation failed; answered with its status (`FsError::status`).
    Fs(FsError),
    /// An authentication exchange failed; answered STATUS_INVALID_PARAMETER for a token
    /// that does not parse, STATUS_LOGON_FAILURE otherwise (the detail is for logs).
    Auth(AuthError),
    /// A limit was reached (ids, memory, pending requests); answered
    /// STATUS_INSUFFICIENT_RESOURCES.
    Resource(&'static str),
    /// The server's own state or environment failed it (no randomness, a cipher that
    /// would not key); answered STATUS_INTERNAL_ERROR.
    Internal(&'static str),
    /// The connection is over with nothing wrong in what the peer sent: it closed, its
    /// socket failed or stalled, a logon deadline passed, or the server let it go
    /// (stopping, or making room). Ends the connection.
    Closed(&'static str),
}

impl Fault {
    /// The NTSTATUS a request failing with this fault is answered with. Faults that end
    /// the connection are not answered; theirs is what a response would have said.
    pub fn status(&self) -> NtStatus {
        match self {
            Fault::Malformed(_) | Fault::ProtocolViolation(_) => NtStatus::INVALID_PARAMETER,
            Fault::Fs(e) => e.status(),
            Fault::Auth(AuthError::Malformed(_)) => NtStatus::INVALID_PARAMETER,
            Fault::Auth(_) => NtStatus::LOGON_FAILURE,
            Fault::Resource(_) => NtStatus::INSUFFICIENT_RESOURCES,
            Fault::Internal(_) => NtStatus::INTERNAL_ERROR,
            Fault::Closed(_) => NtStatus::NETWORK_NAME_DELETED,
        }
    }

    /// Whether the connection ends instead of the request being answered.
    pub fn ends_connection(&self) -> bool {
        match self {
            Fault::Malformed(_) | Fault::ProtocolViolation(_) | Fault::Closed(_) => true,
            Fault::Fs(_) | Fault::Auth(_) | Fault::Resource(_) | Fault::Internal(_) => false,
        }
    }

    /// The socket failed (not a clean close or a decision of the server's): what the
    /// liveness watch counts as a holder that vanished (`link_watch.rs`).
    pub fn is_socket_failure(&self) -> bool {
        matches!(self, Fault::Closed(READ_FAILED | WRITE_FAILED))
    }
}

/// A read from the socket failed.
pub const READ_FAILED: &str = "read error";
/// A write to the socket failed.
pub const WRITE_FAILED: &str = "write error";

impl From<FsError> for Fault {
    fn from(e: FsError) -> Fault {
        Fault::Fs(e)
    }
}

/// A header or frame that does not decode (request bodies that do not decode are
/// answered STATUS_INVALID_PARAMETER by the handler, `From<WireError> for NtStatus`).
impl From<WireError> for Fault {
    fn from(_: WireError) -> Fault {
        Fault::Malformed("header does not decode")
    }
}

impl From<AuthError> for Fault {
    fn from(e: AuthError) -> Fault {
        Fault::Auth(e)
    }
}

/// A server error met while answering a request: only randomness can fail then.
impl From<ServerError> for Fault {
    fn from(e: ServerError) -> Fault {
        match e {
            ServerError::Random(_) => Fault::Internal("no randomness"),
            ServerError::Share { .. } | ServerError::Listen { .. } | ServerError::UnixIdentity(_) => Fault::Internal("server setup"),
        }
    }
}

/// So a handler asks for randomness with a plain `?` (STATUS_INTERNAL_ERROR, by way of
/// [`Fault::status`]).
impl From<ServerError> for NtStatus {
    fn from(e: ServerError) -> NtStatus {
        Fault::from(e).status()
    }
}

/// Keys a session's cipher would not take.
impl From<CryptoError> for Fault {
    fn from(_: CryptoError) -> Fault {
        Fault::Internal("cipher keys refused")
    }
}

/// A handler fails with the fault's status ([`Fault::status`]), so `?` passes it on.
impl From<Fault> for NtStatus {
    fn from(f: Fault) -> NtStatus {
        f.status()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Malformed(why) => write!(f, "malformed: {why}"),
            Fault::ProtocolViolation(why) => write!(f, "protocol violation: {why}"),
            Fault::Fs(e) => write!(f, "file system: {e}"),
            Fault::Auth(e) => write!(f, "authentication: {e}"),
            Fault::Resource(why) => write!(f, "out of resources: {why}"),
            Fault::Internal(why) => write!(f, "internal error: {why}"),
            Fault::Closed(why) => f.write_str(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant, with the status it must map to and whether it ends the connection.
    fn every_variant() -> Vec<(Fault, NtStatus, bool)> {
        vec![
            (Fault::Malformed("x"), NtStatus::INVALID_PARAMETER, true),
            (Fault::ProtocolViolation("x"), NtStatus::INVALID_PARAMETER, true),
            (Fault::Fs(FsError::NotFound), NtStatus::OBJECT_NAME_NOT_FOUND, false),
            (Fault::Fs(FsError::AccessDenied), NtStatus::ACCESS_DENIED, false),
            (Fault::Auth(AuthError::Malformed("x")), NtStatus::INVALID_PARAMETER, false),
            (Fault::Auth(AuthError::WrongPassword), NtStatus::LOGON_FAILURE, false),
            (Fault::Auth(AuthError::BadMic), NtStatus::LOGON_FAILURE, false),
            (Fault::Auth(AuthError::Unsupported("x")), NtStatus::LOGON_FAILURE, false),
            (Fault::Auth(AuthError::State("x")), NtStatus::LOGON_FAILURE, false),
            (Fault::Resource("x"), NtStatus::INSUFFICIENT_RESOURCES, false),
            (Fault::Internal("x"), NtStatus::INTERNAL_ERROR, false),
            (Fault::Closed("x"), NtStatus::NETWORK_NAME_DELETED, true),
        ]
    }

    #[test]
    fn every_variant_has_its_status() {
        for (fault, status, _) in every_variant() {
            assert_eq!(fault.status(), status, "{fault}");
            assert_eq!(NtStatus::from(fault), status);
        }
    }

    #[test]
    fn malformed_protocol_violations_and_closes_end_the_connection_nothing_else_does() {
        for (fault, _, ends) in every_variant() {
            assert_eq!(fault.ends_connection(), ends, "{fault}");
        }
    }

    #[test]
    fn file_system_errors_keep_their_one_mapping() {
        let e = || FsError::from(std::io::Error::from_raw_os_error(libc_enospc()));
        assert_eq!(Fault::from(e()).status(), e().status());
        assert_eq!(Fault::from(e()).status(), NtStatus::DISK_FULL);
    }

    /// ENOSPC, without a libc dependency for one constant.
    fn libc_enospc() -> i32 {
        28
    }

    #[test]
    fn conversions_pick_the_variant() {
        assert!(matches!(Fault::from(WireError::BadProtocolId), Fault::Malformed(_)));
        assert!(matches!(Fault::from(AuthError::BadMic), Fault::Auth(AuthError::BadMic)));
        assert!(matches!(Fault::from(FsError::NotFound), Fault::Fs(FsError::NotFound)));
    }

    #[test]
    fn failures_of_the_server_itself_are_internal_errors() {
        assert_eq!(NtStatus::from(ServerError::Random("x".into())), NtStatus::INTERNAL_ERROR);
        assert!(matches!(Fault::from(ServerError::Random("x".into())), Fault::Internal("no randomness")));
        assert!(matches!(Fault::from(CryptoError::Truncated(3)), Fault::Internal(_)));
    }

    #[test]
    fn only_failed_reads_and_writes_are_socket_failures() {
        assert!(Fault::Closed(READ_FAILED).is_socket_failure());
        assert!(Fault::Closed(WRITE_FAILED).is_socket_failure());
        assert!(!Fault::Closed("peer closed").is_socket_failure());
        assert!(!Fault::Malformed(READ_FAILED).is_socket_failure());
    }

    #[test]
    fn logs_say_what_and_why() {
        assert_eq!(Fault::ProtocolViolation("second NEGOTIATE").to_string(), "protocol violation: second NEGOTIATE");
        assert_eq!(Fault::Closed("peer closed").to_string(), "peer closed");
        assert_eq!(Fault::Auth(AuthError::WrongPassword).to_string(), "authentication: wrong password");
    }
}
