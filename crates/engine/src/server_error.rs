//! What can keep the server from starting or a reload from applying.

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("share {name}: {source}")]
    Share { name: String, source: opportune_fs::FsError },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("no randomness available: {0}")]
    Random(String),
    /// `unix_identity` without root (or without CAP_SETUID/CAP_SETGID).
    #[error("{0}")]
    UnixIdentity(String),
}
