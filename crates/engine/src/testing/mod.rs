//! The test world: the engine driven without sockets or tokio, after quinn's `Pair` and
//! the lock core's invariant world (`crates/locks/tests/invariants.rs`). A [`World`] holds
//! one [`ServerState`](crate::ServerState) serving a share (the in-memory file
//! system by default, a temporary directory for what needs a host: [`WorldShare`]) and N
//! [`Client`]s; clients send real encoded SMB2 frames (MS-SMB2 2.2), the world delivers
//! them through [`dispatch::process_frame`](crate::dispatch::process_frame) and routes the
//! lock layer's events through [`events::handle`](crate::events::handle) in the order the
//! tokio driver does, and the tests inject faults: delay, drop, reorder or duplicate a
//! client's frames ([`WireFault`]), kill a connection, expire timers. Time is virtual (a
//! [`ManualClock`](crate::clock::ManualClock) moved by [`World::advance`]) and the
//! server's randomness seeded, so a run is repeatable. [`invariants`] checks what must
//! always hold (one final response per request, credits never negative, nothing sent on
//! a closed connection, nothing outliving its connection).
//!
//! Built with the `testing` feature; used by `crates/engine/tests/world_*.rs`; not part
//! of the server.

pub mod build;
pub mod client;
pub mod invariants;
pub mod message;
mod ops;
pub mod rng;
pub mod share_dir;
pub mod world;
pub mod world_share;

pub use build::{Create, Fid};
pub use client::{Client, Msg};
pub use message::{Notice, Response};
pub use ops::{SMB210, SMB302};
pub use rng::Rng;
pub use world::{WireFault, World, SHARE, USERS};
pub use world_share::{Backend, WorldShare};
