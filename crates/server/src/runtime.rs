//! The tokio runtime the server runs on: multi-threaded, with a bounded blocking pool
//! (`offload::blocking` hands workers off to it), and every thread of it starting as the
//! server itself.
//!
//! A Linux thread starts with the credentials of the thread that created it, fsuid,
//! fsgid and supplementary groups included. With `unix_identity`, a request's thread
//! acts as its user (`unix_id::act_as`) while it runs, and `block_in_place` may grow the
//! blocking pool from inside that request: the new thread would then serve every later
//! request as that user. So each thread first becomes the server again
//! (`opportune_fs::become_the_server`, from the identity `record_server_identity` took
//! before the runtime existed).

/// A multi-threaded runtime builder with at most `max_blocking_threads` blocking
/// threads, every driver enabled, and every thread starting as the server. Call it from
/// `main` before any thread acts as a user: the calling thread's identity is recorded
/// as the server's.
pub fn builder(max_blocking_threads: usize) -> std::io::Result<tokio::runtime::Builder> {
    opportune_fs::record_server_identity()?;
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.max_blocking_threads(max_blocking_threads).enable_all().on_thread_start(opportune_fs::become_the_server);
    Ok(b)
}
