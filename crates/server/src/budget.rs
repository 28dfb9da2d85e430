//! Server-wide memory budgets for large transfers (docs/SECURITY.md): bytes of large
//! frames being received and of large responses being built or sent. A connection that
//! needs more than is left waits for it (it is simply not read meanwhile): back-pressure
//! on that client instead of memory the server does not have.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits count KiB, so budgets of many GiB fit.
const UNIT: usize = 1024;

/// One budget: bytes that may be held at once.
pub struct MemoryBudget {
    sem: Arc<Semaphore>,
    /// The whole budget in units, to clamp one request that asks for more than all of it.
    total: u32,
}

/// Memory held against a budget; given back when dropped.
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

impl MemoryBudget {
    pub fn new(bytes: usize) -> MemoryBudget {
        let units = (bytes / UNIT).clamp(1, u32::MAX as usize) as u32;
        MemoryBudget { sem: Arc::new(Semaphore::new(units as usize)), total: units }
    }

    fn units(&self, bytes: usize) -> u32 {
        (bytes.div_ceil(UNIT).min(self.total as usize) as u32).max(1)
    }

    /// Waits until `bytes` fit (clamped to the whole budget). Cancel-safe: nothing is held
    /// if the future is dropped.
    pub async fn reserve(&self, bytes: usize) -> Reservation {
        let permit = self.sem.clone().acquire_many_owned(self.units(bytes)).await.ok();
        Reservation { permit }
    }

    /// Bytes left, for the tests.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.sem.available_permits() * UNIT
    }
}

impl Reservation {
    pub fn none() -> Reservation {
        Reservation { permit: None }
    }

    /// Adds another reservation to this one; both are given back together.
    pub fn merge(&mut self, other: Reservation) {
        match (&mut self.permit, other.permit) {
            (Some(p), Some(o)) => p.merge(o),
            (slot @ None, o) => *slot = o,
            (Some(_), None) => {}
        }
    }

    pub fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits() * UNIT)
    }
}

/// Server-wide memory for large transfers (docs/SECURITY.md).
pub struct Memory {
    /// Large frames being received.
    pub receive: MemoryBudget,
    /// Large responses being built or sent.
    pub send: MemoryBudget,
    /// Recycled large buffers, shared with the engine (`ServerState::buffers`).
    pub pool: std::sync::Arc<opportune_engine::buffers::BufferPool>,
}

impl Memory {
    pub fn new(limits: &opportune_engine::Limits, pool: std::sync::Arc<opportune_engine::buffers::BufferPool>) -> Memory {
        // A budget smaller than one largest frame could never be met.
        let floor = opportune_wire::transport::MAX_FRAME;
        Memory {
            receive: MemoryBudget::new(limits.receive_memory.max(floor)),
            send: MemoryBudget::new(limits.send_memory.max(floor)),
            pool,
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_room_and_give_it_back() {
        let b = MemoryBudget::new(4 * 1024 * 1024);
        let r1 = b.reserve(3 * 1024 * 1024).await;
        assert_eq!(r1.bytes(), 3 * 1024 * 1024);
        assert_eq!(b.available(), 1024 * 1024);
        // Two more MiB do not fit until r1 goes.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), b.reserve(2 * 1024 * 1024)).await;
        assert!(waiting.is_err(), "must wait while the budget is taken");
        assert_eq!(b.available(), 1024 * 1024, "a cancelled wait holds nothing");
        drop(r1);
        let r2 = b.reserve(2 * 1024 * 1024).await;
        assert_eq!(b.available(), 2 * 1024 * 1024);
        drop(r2);
        assert_eq!(b.available(), 4 * 1024 * 1024);
    }

    #[tokio::test]
    async fn a_request_larger_than_the_budget_takes_all_of_it() {
        let b = MemoryBudget::new(1024 * 1024);
        let mut r = b.reserve(10 * 1024 * 1024).await;
        assert_eq!(b.available(), 0);
        r.merge(Reservation::none());
        assert_eq!(r.bytes(), 1024 * 1024);
        drop(r);
        assert_eq!(b.available(), 1024 * 1024);
    }
}
