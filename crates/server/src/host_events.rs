//! The task that reads host changes (`host_notify.rs`) for as long as the server runs and
//! hands each to what it concerns: the CHANGE_NOTIFY watchers (`notify.rs`), the
//! directory leases of its directory (`dir_leases.rs`), and the handle caching of a file
//! whose name went away (`host_names.rs`).

use crate::host_notify::GRACE;
use crate::locking::Changer;
use crate::notify::{action, filter};
use crate::server::ServerState;
use opportune_fs::{HostChange, HostEvent};
use std::sync::Arc;
use std::time::Instant;

/// The FILE_ACTION_* and FILE_NOTIFY_CHANGE_* class of a host change.
fn classify(e: &HostEvent) -> Option<(u32, u32)> {
    let name = if e.is_dir { filter::DIR_NAME } else { filter::FILE_NAME };
    Some(match e.change {
        HostChange::Added => (action::ADDED, name),
        HostChange::Removed => (action::REMOVED, name),
        HostChange::RenamedFrom => (action::RENAMED_OLD_NAME, name),
        HostChange::RenamedTo => (action::RENAMED_NEW_NAME, name),
        HostChange::Modified => (action::MODIFIED, filter::SIZE | filter::LAST_WRITE),
        // IN_ATTRIB does not say what changed: a mode (the read-only attribute), an owner
        // or ACL, or times (touch).
        HostChange::Attributes => (action::MODIFIED, filter::ATTRIBUTES | filter::LAST_WRITE | filter::SECURITY),
        HostChange::Overflow => return None,
    })
}

/// Reads host changes for as long as the server runs and tells the watchers.
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
        let (events, appeared) = state.host_notify.take(Instant::now());
        for (share, rel) in appeared {
            if let Some(s) = state.shares.get(share) {
                crate::offload::blocking(|| state.host_notify.extend(&s.fs, share, &rel));
            }
        }
        for e in events {
            match classify(&e) {
                Some((act, mask)) => {
                    tracing::debug!(share = e.tag, rel = %e.rel, change = ?e.change, "host change");
                    state.notify.report_host(&state.locks, e.tag, &e.rel, act, mask);
                    state.dir_leases.entry_changed(&state.locks, e.tag, &e.rel, Changer::Host);
                    if matches!(e.change, HostChange::Removed | HostChange::RenamedFrom | HostChange::RenamedTo) && !e.is_dir {
                        crate::host_names::host_lost_name(&state.locks, e.tag, &e.rel);
                    }
                }
                None => {
                    state.notify.overflow(&state.locks, e.tag);
                    state.dir_leases.share_changed(&state.locks, e.tag);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_changes_map_to_actions_and_filters() {
        let e = |change, is_dir| HostEvent { tag: 0, rel: "x".into(), change, is_dir };
        assert_eq!(classify(&e(HostChange::Added, false)), Some((action::ADDED, filter::FILE_NAME)));
        assert_eq!(classify(&e(HostChange::Removed, true)), Some((action::REMOVED, filter::DIR_NAME)));
        assert_eq!(classify(&e(HostChange::RenamedTo, false)), Some((action::RENAMED_NEW_NAME, filter::FILE_NAME)));
        assert_eq!(classify(&e(HostChange::Modified, false)), Some((action::MODIFIED, filter::SIZE | filter::LAST_WRITE)));
        let attrs = filter::ATTRIBUTES | filter::LAST_WRITE | filter::SECURITY;
        assert_eq!(classify(&e(HostChange::Attributes, false)), Some((action::MODIFIED, attrs)));
        assert_eq!(classify(&e(HostChange::Overflow, false)), None);
    }
}
