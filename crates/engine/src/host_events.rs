//! Host changes (`host_notify.rs`), read when the driver sees the inotify descriptor
//! readable, each handed to what it concerns: the CHANGE_NOTIFY watchers (`notify.rs`), the
//! directory leases of its directory (`dir_leases.rs`), and the handle caching of a file
//! whose name went away (`host_names.rs`).

use crate::locking::Changer;
use crate::notify::{action, filter};
use crate::server::ServerState;
use opportune_fs::{HostChange, HostEvent};

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

/// Takes the host changes the inotify descriptor ([`ServerState::host_notify`]) has
/// ready and tells the watchers. The driver calls it when the descriptor is readable,
/// [`GRACE`](crate::host_notify::GRACE) later (so the events of one change come together).
pub fn deliver(state: &ServerState) {
    let (events, appeared) = state.host_notify.take(state.now());
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
