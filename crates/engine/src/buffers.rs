//! Large buffers (big READ responses, big received frames) recycled server-wide. A
//! connection that did one large transfer keeps nothing afterwards: the buffer goes back
//! to this pool, which holds at most a few of them, so idle connections stay small however
//! much they moved before.

use std::sync::Mutex;

/// Buffers at least this big are worth keeping.
pub const RECYCLE_MIN: usize = 1 << 20;

/// How many large buffers the pool keeps (each up to the largest frame, ~8 MiB).
const POOLED: usize = 4;

#[derive(Default)]
pub struct BufferPool {
    bufs: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A recycled large buffer (cleared), or an empty one.
    pub fn take(&self) -> Vec<u8> {
        let mut b = self.bufs.lock().map(|mut v| v.pop()).ok().flatten().unwrap_or_default();
        b.clear();
        b
    }

    /// Gives a buffer back; kept only if it is large and the pool has room.
    pub fn give(&self, buf: Vec<u8>) {
        if buf.capacity() < RECYCLE_MIN {
            return;
        }
        if let Ok(mut v) = self.bufs.lock()
            && v.len() < POOLED {
                v.push(buf);
            }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.bufs.lock().map(|v| v.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_a_few_large_buffers() {
        let pool = BufferPool::default();
        pool.give(Vec::with_capacity(100));
        assert_eq!(pool.len(), 0, "small buffers are not kept");
        for _ in 0..10 {
            pool.give(vec![1u8; RECYCLE_MIN]);
        }
        assert_eq!(pool.len(), POOLED);
        let b = pool.take();
        assert!(b.is_empty() && b.capacity() >= RECYCLE_MIN, "a recycled buffer comes back cleared");
        assert_eq!(pool.len(), POOLED - 1);
    }
}
