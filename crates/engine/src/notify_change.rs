//! One change a CHANGE_NOTIFY watch is told about (an entry of FILE_NOTIFY_INFORMATION,
//! MS-FSCC 2.7.1): what `notify.rs` finds and the lock core carries to the watching
//! open's connection (`ConnEvent::Change`).

#[derive(Clone, Debug)]
pub struct Change {
    /// The watching open.
    pub open: u64,
    pub action: u32,
    /// Path relative to the watched directory, with backslashes.
    pub name: String,
}
