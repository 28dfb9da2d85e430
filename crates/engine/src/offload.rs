//! Keeping blocking file-system work off the network threads (hardening finding #15).
//!
//! A frame is processed synchronously by its connection's task. File-system calls can
//! block for as long as the disk makes them (the fsync of a write-through WRITE or a
//! FLUSH, a large READ from a cold cache, a truncation, a preallocation, an unlink on
//! close): on a runtime worker thread that stalls every other connection scheduled there.
//! Those calls run through [`blocking`], which hands them to the [`Runner`] the driver
//! installed ([`install`]): the tokio driver's runs them inside `block_in_place`, which
//! first hands the worker's other tasks to another thread (from the runtime's blocking
//! pool, bounded by the CLI's `max_blocking_threads`), then runs the call here. Without a
//! runner (unit tests, a single-threaded driver) they run inline.
//!
//! The hand-off is not free: measured on 2 cores, about 17 µs per request (a 4 KiB WRITE
//! went from 23 to 40 µs, CREATE+CLOSE from 45 to 80 µs when every such frame was handed
//! off). So it is reserved for the calls that can wait long: transfers of at least
//! [`LARGE_IO`], every fsync, truncation and preallocation, and removals; small reads and
//! writes, which the page cache absorbs, stay inline.

use std::sync::OnceLock;

/// Reads and writes at least this big (64 KiB) are handed off: they may wait for the disk
/// (a cold read, dirty-page throttling) long enough to be worth it.
pub const LARGE_IO: usize = 64 * 1024;

/// How the driver runs a call that may block.
pub trait Runner: Send + Sync {
    /// Runs `call` on this thread without stalling the driver's other work.
    fn run(&self, call: &mut dyn FnMut());
    /// Whether other connections make progress while a call runs here (a multi-threaded
    /// driver): only then is it worth waiting for another connection to do something.
    fn others_run_meanwhile(&self) -> bool;
}

static RUNNER: OnceLock<Box<dyn Runner>> = OnceLock::new();

/// Installs the driver's runner, once per process; later calls are ignored.
pub fn install(runner: Box<dyn Runner>) {
    let _ = RUNNER.set(runner);
}

/// Runs `f`, a file-system call that may block, without stalling other connections:
/// through the installed runner, inline without one.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let Some(runner) = RUNNER.get() else { return f() };
    let mut f = Some(f);
    let mut out = None;
    runner.run(&mut || {
        if let Some(f) = f.take() {
            out = Some(f());
        }
    });
    match out {
        Some(r) => r,
        // A runner that did not run the call: run it here rather than lose it.
        None => f.take().map(|f| f()).expect("the call ran or is still here"),
    }
}

/// [`blocking`] when `may_wait` (e.g. a write-through or large transfer), else inline.
pub fn blocking_if<R>(may_wait: bool, f: impl FnOnce() -> R) -> R {
    if may_wait { blocking(f) } else { f() }
}

/// Whether other connections make progress while this one waits in [`blocking`].
pub fn others_run_meanwhile() -> bool {
    RUNNER.get().is_some_and(|r| r.others_run_meanwhile())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_run_inline_without_a_runner() {
        assert_eq!(blocking(|| 7), 7);
        assert_eq!(blocking_if(true, || 9), 9);
        assert_eq!(blocking_if(false, || 10), 10);
    }
}
