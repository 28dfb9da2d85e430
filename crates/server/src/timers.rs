//! The lock layer's clock: one task sleeps until the deadline `Locking::tick` returned
//! (break timeouts, durable handles to purge, host-lock retries, kernel lease deadlines)
//! or until the engine says a deadline may have moved earlier; and, with kernel oplocks,
//! one task reads the kernel's lease-break signals and hands them to the engine.

use opportune_engine::locking::Locking;
use std::sync::Arc;
use tokio::sync::Notify;

/// Calls `tick` at each deadline it returns, or sooner when `wake` is notified.
pub async fn run(locks: Arc<Locking>, wake: Arc<Notify>) {
    loop {
        match locks.tick() {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// Reads kernel lease breaks (the lease signals must be blocked in every thread:
/// [`crate::prepare_kernel_leases`]) and hands them to the engine.
pub async fn run_kernel_leases(locks: Arc<Locking>) {
    // `AsyncFd::new` is deprecated for types that do not own their descriptor; this one
    // owns it (an OwnedFd inside), so it stays open as long as the AsyncFd, and the safe
    // constructor keeps `unsafe` out of this crate.
    #[allow(deprecated)]
    let signals = match opportune_fs::kernel_lease::LeaseSignals::new().and_then(tokio::io::unix::AsyncFd::new) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "kernel oplocks: no signalfd for lease breaks; leases are not taken");
            return;
        }
    };
    locks.kernel_leases_ready();
    let mut notes = Vec::new();
    loop {
        let Ok(mut ready) = signals.readable().await else { return };
        notes.clear();
        match signals.get_ref().read(&mut notes) {
            Ok(0) => ready.clear_ready(),
            Ok(_) => locks.kernel_notes(&notes),
            Err(e) => {
                tracing::warn!(error = %e, "kernel oplocks: reading lease breaks failed");
                return;
            }
        }
    }
}
