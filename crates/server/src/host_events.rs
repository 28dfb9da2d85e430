//! The task that waits for host changes (the engine's `host_notify`: inotify) for as long
//! as the server runs, and lets the engine deliver them (`opportune_engine::host_events`).

use opportune_engine::host_notify::GRACE;
use opportune_engine::server::ServerState;
use std::sync::Arc;

/// Waits on the inotify descriptor; each time it is readable, [`GRACE`] later (so the
/// events of one change come together), hands what is there to the engine.
pub async fn run(state: Arc<ServerState>) {
    let Some(w) = state.host_notify.host_watch() else { return };
    // Deprecated for not proving I/O safety: here the descriptor belongs to the
    // HostWatch inside `state`, which this task holds for as long as the AsyncFd lives,
    // so it is neither closed nor reused under the registration.
    #[allow(deprecated)]
    let fd = match tokio::io::unix::AsyncFd::with_interest(w.fd(), tokio::io::Interest::READABLE) {
        Ok(fd) => fd,
        Err(e) => {
            tracing::warn!(error = %e, "cannot wait on inotify: CHANGE_NOTIFY will not see changes made on the host");
            return;
        }
    };
    loop {
        let Ok(mut ready) = fd.readable().await else { return };
        tokio::time::sleep(GRACE).await;
        ready.clear_ready();
        opportune_engine::host_events::deliver(&state);
    }
}
