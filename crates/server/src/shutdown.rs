//! The signal that tells connection tasks to end (see `stop.rs` for the stop itself).

use tokio::sync::watch;

/// Tells connection tasks to end.
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown { tx: watch::channel(false).0 }
    }
}

impl Shutdown {
    /// A receiver whose `changed()` fires when connections must end.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }

    pub fn close_connections(&self) {
        self.tx.send_replace(true);
    }
}

