//! The SMB2/SMB3 wire codec: requests decoded from bytes and responses encoded to
//! bytes, with every length and offset checked. No I/O, no global state; no input can
//! make it panic (each decoder is a fuzz target).
//!
//! Offsets inside SMB2 bodies are relative to the start of the SMB2 header, so every
//! decoder takes the whole message (header + body) and reads its body at offset 64.
#![forbid(unsafe_code)]

pub mod create;
pub mod cursor;
pub mod durable;
pub mod error;
pub mod error_response;
pub mod file_ops;
pub mod fscc;
pub mod header;
pub mod ioctl;
pub mod negotiate;
pub mod oplock;
pub mod query;
pub mod quota;
pub mod response_bound;
pub mod session;
pub mod transport;
pub mod tree;

pub use error::WireError;
pub use header::{Command, Header, HEADER_LEN};

/// Decodes one message of a compound chain into its typed request, checking only its form.
/// Used by the fuzz target and by the server's dispatcher.
pub fn decode_any(msg: &[u8]) -> Result<Header, WireError> {
    let h = Header::decode(msg)?;
    let Some(cmd) = Command::from_u16(h.command) else {
        return Err(WireError::Invalid("unknown command"));
    };
    use Command::*;
    match cmd {
        Negotiate => negotiate::NegotiateRequest::decode(msg).map(drop),
        SessionSetup => session::SessionSetupRequest::decode(msg).map(drop),
        Logoff | TreeDisconnect | Echo | Cancel => session::decode_empty(msg),
        TreeConnect => tree::TreeConnectRequest::decode(msg).map(drop),
        Create => create::CreateRequest::decode(msg).map(drop),
        Close => file_ops::CloseRequest::decode(msg).map(drop),
        Flush => file_ops::decode_flush(msg).map(drop),
        Read => file_ops::ReadRequest::decode(msg).map(drop),
        Write => file_ops::WriteRequest::decode(msg).map(drop),
        Lock => file_ops::LockRequest::decode(msg).map(drop),
        Ioctl => ioctl::IoctlRequest::decode(msg).map(drop),
        QueryDirectory => query::QueryDirectoryRequest::decode(msg).map(drop),
        ChangeNotify => query::ChangeNotifyRequest::decode(msg).map(drop),
        QueryInfo => query::QueryInfoRequest::decode(msg).map(drop),
        SetInfo => query::SetInfoRequest::decode(msg).map(drop),
        OplockBreak => oplock::BreakAck::decode(msg).map(drop),
    }?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_bytes_never_panic() {
        // A tiny xorshift so the test is deterministic without a dependency.
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..20_000 {
            let len = 40 + (next() % 240) as usize;
            let mut m: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if m.len() >= 14 {
                m[..4].copy_from_slice(&super::header::PROTOCOL_ID);
                m[4] = 64;
                m[5] = 0;
                m[12] = (next() % 20) as u8;
                m[13] = 0;
            }
            let _ = super::decode_any(&m);
        }
    }
}
