//! Fixtures shared by the lock layer's unit tests: an event sink that collects what is
//! routed to a connection, and the file description the adapter keys files by.

use super::*;

/// Collects the events routed to one connection.
#[derive(Default)]
pub(super) struct Inbox(Mutex<Vec<ConnEvent>>);

impl EventSink for Inbox {
    fn send(&self, ev: ConnEvent) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(ev);
        true
    }
}

impl Inbox {
    fn count(&self, f: impl Fn(&ConnEvent) -> bool) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().filter(|e| f(e)).count()
    }

    pub(super) fn lease_breaks(&self) -> usize {
        self.count(|e| matches!(e, ConnEvent::Lock(Event::SendLeaseBreak { .. })))
    }

    pub(super) fn create_completed(&self, open: u64) -> bool {
        self.count(|e| matches!(e, ConnEvent::Lock(Event::CompleteCreate { open: o, .. }) if o.0 == open)) > 0
    }

    pub(super) fn oplock_break_sent(&self) -> bool {
        self.count(|e| matches!(e, ConnEvent::Lock(Event::SendOplockBreak { .. }))) > 0
    }
}

/// A file (or directory) of device 1 with inode `ino`.
pub(super) fn file_info(ino: u64, is_dir: bool) -> FileInfo {
    FileInfo {
        file_id: ino,
        dev: 1,
        size: 0,
        allocation_size: 0,
        creation_time: 0,
        last_access_time: 0,
        last_write_time: 0,
        change_time: 0,
        attributes: 0,
        nlink: 1,
        is_dir,
        stream: 0,
    }
}
