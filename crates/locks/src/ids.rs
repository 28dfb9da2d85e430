//! Identifiers supplied by the server. The core never invents identities: every
//! id here is chosen by the caller and only compared for equality.

/// One entry per file in the object store (MS-FSA 2.1.1.4 "Per File"): the device
/// and inode the server resolved the path to. Stream names can be folded into
/// `ino` later (one key per stream) without changing the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    pub device: u64,
    pub inode: u64,
}

/// One open (MS-SMB2 3.3.1.10 "Per Open"); the server's volatile file id is a good choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpenId(pub u64);

/// One transport connection (MS-SMB2 3.3.1.7): where break notifications are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A lease key and a client guid are the protocol's vocabulary, shared from the wire up.
pub use opportune_types::caching::{ClientGuid, LeaseKey};

/// A lease is identified by its client guid and lease key (MS-SMB2 3.3.1.11 LeaseTable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId {
    pub client: ClientGuid,
    pub key: LeaseKey,
}

/// The server's identity for an asynchronous request (its AsyncId), used for pending
/// byte-range locks and cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);
