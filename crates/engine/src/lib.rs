//! The Opportune SMB2/SMB3 protocol engine: what the server does with a frame, a
//! lock-core event or a host change, with no I/O runtime. It implements the commands
//! (`handlers/`, one module per command: NEGOTIATE MS-SMB2 3.3.5.3 … CREATE 3.3.5.9 …),
//! dispatch (transform, compounding, signing, credits, async replies: `dispatch.rs`),
//! sessions, trees, opens, durable handles, change notify and the lock adapter
//! (`locking.rs`) over the lock core. The driver (`opportune-server`, tokio) owns the
//! sockets and timers: it hands frames to [`dispatch::process_frame`], connection events
//! to [`events::handle`], deadlines to [`locking::Locking::tick`], and carries out what
//! they return. The codec, authentication, the file system and the lock core are crates
//! below this one.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod break_trace;
pub mod buffers;
mod chain;
pub mod clock;
pub mod config;
pub mod conn_state;
pub mod connection_end;
mod create_plan;
mod credits;
mod deferred_create;
mod descriptor_cache;
mod dir_leases;
pub mod dispatch;
mod durable;
pub mod entropy;
pub mod events;
pub mod fault;
mod handlers;
pub mod host_events;
mod host_names;
pub mod host_notify;
mod identity;
pub mod link_watch;
pub mod liveness;
mod fd_budget;
pub mod figures;
pub mod limits;
pub mod locking;
mod meta;
pub mod metrics;
mod notify;
pub mod notify_change;
pub mod offload;
mod open;
mod parked;
mod pending;
mod pipes;
mod policy;
pub mod quota;
pub mod security;
mod access_check;
pub mod server;
mod server_error;
mod server_view;
pub mod session;
pub mod share_access;
mod share_state;
mod share_table;
pub mod reload;
pub mod throttle;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unix_id;
mod wildcard;

pub use config::{Encryption, GroupConfig, ServerConfig, ShareCaching, ShareConfig, UserConfig};
pub use limits::Limits;
pub use liveness::{Keepalive, LivenessConfig};
pub use server::{Reloader, ServerState};
pub use server_error::ServerError;

