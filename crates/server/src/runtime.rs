//! The tokio runtime the server runs on: multi-threaded, with a bounded blocking pool
//! (the engine's `offload::blocking` hands workers off to it through [`BlockInPlace`]),
//! and every thread of it starting as the server itself.
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

/// The engine's way of running a file-system call that may block
/// (`opportune_engine::offload`): inside `block_in_place` on a worker of a multi-threaded
/// runtime, which first hands the worker's other tasks to another thread; inline
/// anywhere else (`block_in_place` panics on a current-thread runtime).
pub struct BlockInPlace;

fn on_multi_threaded_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

impl opportune_engine::offload::Runner for BlockInPlace {
    fn run(&self, call: &mut dyn FnMut()) {
        if on_multi_threaded_runtime() { tokio::task::block_in_place(call) } else { call() }
    }

    fn others_run_meanwhile(&self) -> bool {
        on_multi_threaded_runtime()
    }
}

/// Installs [`BlockInPlace`] as the engine's runner (idempotent).
pub fn install_offload() {
    opportune_engine::offload::install(Box::new(BlockInPlace));
}

#[cfg(test)]
mod tests {
    use super::*;
    use opportune_engine::offload::{blocking, blocking_if};

    #[test]
    fn calls_run_inline_outside_a_multi_threaded_runtime() {
        install_offload();
        assert_eq!(blocking(|| 7), 7);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // block_in_place would panic here.
        assert_eq!(rt.block_on(async { blocking(|| 8) }), 8);
        assert_eq!(rt.block_on(async { blocking_if(true, || 9) }), 9);
    }

    #[test]
    fn a_blocking_call_leaves_the_other_tasks_running() {
        install_offload();
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

    /// A request's identity covers its blocking calls (block_in_place keeps the thread)
    /// and never shows on the threads that run other tasks meanwhile.
    #[test]
    fn the_identity_follows_a_blocking_call_and_no_other_task_sees_it() {
        install_offload();
        if opportune_fs::euid() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let rt = builder(8).unwrap().worker_threads(2).build().unwrap();
        let (inside, others) = rt.block_on(async {
            let watcher = tokio::spawn(async {
                let mut seen = Vec::new();
                let start = std::time::Instant::now();
                while start.elapsed() < std::time::Duration::from_millis(300) {
                    seen.push(opportune_fs::current_fsuid());
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                seen
            });
            let request = tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let who = opportune_fs::UnixIdentity { uid: 40031, gid: 40031, groups: vec![40031] };
                opportune_engine::unix_id::act_as(Some(&who), || {
                    opportune_engine::offload::blocking(|| {
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        opportune_fs::current_fsuid()
                    })
                })
                .unwrap()
            });
            (request.await.unwrap(), watcher.await.unwrap())
        });
        assert_eq!(inside, 40031);
        assert!(others.len() > 20 && others.iter().all(|&u| u == 0), "another task saw {others:?}");
    }
}
