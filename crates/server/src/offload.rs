//! Keeping blocking file-system work off the network threads (hardening finding #15).
//!
//! A frame is processed synchronously by its connection's task. File-system calls can
//! block for as long as the disk makes them (the fsync of a write-through WRITE or a
//! FLUSH, a large READ from a cold cache, a truncation, a preallocation, an unlink on
//! close): on a runtime worker thread that stalls every other connection scheduled there.
//! Those calls run through [`blocking`], i.e. inside [`tokio::task::block_in_place`],
//! which first hands the worker's other tasks to another thread (from the runtime's
//! blocking pool, bounded by the CLI's `max_blocking_threads`), then runs the call here.
//!
//! The hand-off is not free: measured on 2 cores, about 17 µs per request (a 4 KiB WRITE
//! went from 23 to 40 µs, CREATE+CLOSE from 45 to 80 µs when every such frame was handed
//! off). So it is reserved for the calls that can wait long: transfers of at least
//! [`LARGE_IO`], every fsync, truncation and preallocation, and removals; small reads and
//! writes, which the page cache absorbs, stay inline.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Reads and writes at least this big (64 KiB) are handed off: they may wait for the disk
/// (a cold read, dirty-page throttling) long enough to be worth it.
pub const LARGE_IO: usize = 64 * 1024;

/// Whether the current thread is a worker of a multi-threaded runtime, the only place
/// `block_in_place` may be called (it panics in a current-thread runtime).
fn on_multi_threaded_runtime() -> bool {
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

/// Runs `f`, a file-system call that may block, without stalling other connections:
/// inside `block_in_place` on a multi-threaded runtime, inline elsewhere.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    if on_multi_threaded_runtime() { tokio::task::block_in_place(f) } else { f() }
}

/// [`blocking`] when `may_wait` (e.g. a write-through or large transfer), else inline.
pub fn blocking_if<R>(may_wait: bool, f: impl FnOnce() -> R) -> R {
    if may_wait { blocking(f) } else { f() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_run_inline_outside_a_multi_threaded_runtime() {
        assert_eq!(blocking(|| 7), 7);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // block_in_place would panic here.
        assert_eq!(rt.block_on(async { blocking(|| 8) }), 8);
        assert_eq!(rt.block_on(async { blocking_if(true, || 9) }), 9);
    }

    #[test]
    fn a_blocking_call_leaves_the_other_tasks_running() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_time().build().unwrap();
        let ticks = rt.block_on(async {
            let ticker = tokio::spawn(async {
                let mut n = 0u32;
                let start = std::time::Instant::now();
                while start.elapsed() < std::time::Duration::from_millis(300) {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    n += 1;
                }
                n
            });
            let blocker = tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                // One worker only: inline, this would stop the ticker for 200 ms.
                blocking(|| std::thread::sleep(std::time::Duration::from_millis(200)));
            });
            blocker.await.unwrap();
            ticker.await.unwrap()
        });
        assert!(ticks >= 40, "the other task ran only {ticks} times while a call blocked");
    }
}
