//! Reference-model test: a deliberately naive byte-range lock table (interval
//! arithmetic in u128, no shared code) against the real one through LockCore.
mod common;
use common::*;
use opportune_locks::*;
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use proptest::prelude::*;
use std::time::Instant;

#[derive(Clone, Debug)]
enum Op {
    Lock { open: u64, off: u64, len: u64, excl: bool },
    Unlock { open: u64, off: u64, len: u64 },
    Io { open: u64, off: u64, len: u64, write: bool },
}

#[derive(Default)]
struct Naive {
    locks: Vec<(u64, u64, u64, bool)>,
}

/// Do two ranges touch? Non-empty ranges: half-open u128 intervals intersect. A zero-length
/// range at X > 0 touches a non-empty range strictly containing X after its first byte.
/// {0,0} touches nothing; two zero-length ranges never touch.
fn touch(a: (u64, u64), b: (u64, u64)) -> bool {
    let point_inside = |x: u64, (o, l): (u64, u64)| (o as u128) < x as u128 && (x as u128) < o as u128 + l as u128;
    match (a.1, b.1) {
        (0, 0) => false,
        (0, _) => a.0 != 0 && point_inside(a.0, b),
        (_, 0) => b.0 != 0 && point_inside(b.0, a),
        _ => {
            let (a0, a1) = (a.0 as u128, a.0 as u128 + a.1 as u128);
            let (b0, b1) = (b.0 as u128, b.0 as u128 + b.1 as u128);
            a0 < b1 && b0 < a1
        }
    }
}

impl Naive {
    fn lock(&mut self, open: u64, off: u64, len: u64, excl: bool) -> NtStatus {
        if len > 0 && off as u128 + len as u128 - 1 > u64::MAX as u128 {
            return NtStatus::INVALID_LOCK_RANGE;
        }
        for &(o, lo, ll, lx) in &self.locks {
            if !touch((off, len), (lo, ll)) {
                continue;
            }
            let blocked = if lx { o != open || excl } else { excl };
            if blocked {
                return NtStatus::LOCK_NOT_GRANTED;
            }
        }
        self.locks.push((open, off, len, excl));
        NtStatus::SUCCESS
    }
    fn unlock(&mut self, open: u64, off: u64, len: u64) -> NtStatus {
        let mine = |l: &(u64, u64, u64, bool)| l.0 == open && l.1 == off && l.2 == len;
        let idx = self.locks.iter().position(|l| mine(l) && l.3).or_else(|| self.locks.iter().rposition(mine));
        match idx {
            Some(i) => {
                self.locks.remove(i);
                NtStatus::SUCCESS
            }
            None => NtStatus::RANGE_NOT_LOCKED,
        }
    }
    fn io(&self, open: u64, off: u64, len: u64, write: bool) -> Result<(), NtStatus> {
        if len == 0 {
            return Ok(());
        }
        let bad = self.locks.iter().any(|&(o, lo, ll, lx)| touch((off, len), (lo, ll)) && if lx { o != open } else { write });
        if bad { Err(NtStatus::FILE_LOCK_CONFLICT) } else { Ok(()) }
    }
}

/// Offsets: mostly small (where ranges meet), some at the very end of the address space,
/// some anywhere.
fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..24,
        2 => (0u64..6).prop_map(|k| u64::MAX - k),
        1 => Just(1u64 << 63),
        1 => any::<u64>(),
    ]
}
/// Lengths: zero and short ones, the whole space, ones that end exactly at 2^64 or just
/// past it (from the offsets near the end), anything.
fn length() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..6,
        1 => Just(u64::MAX),
        1 => Just(2u64),
        1 => Just(1u64 << 63),
        1 => (0u64..4).prop_map(|k| u64::MAX - k),
        1 => any::<u64>(),
    ]
}

const OPENS: u64 = 8;

fn op() -> impl Strategy<Value = Op> {
    let open = 1u64..=OPENS;
    prop_oneof![
        3 => (open.clone(), offset(), length(), any::<bool>()).prop_map(|(open, off, len, excl)| Op::Lock { open, off, len, excl }),
        2 => (open.clone(), offset(), length()).prop_map(|(open, off, len)| Op::Unlock { open, off, len }),
        2 => (open, offset(), length(), any::<bool>()).prop_map(|(open, off, len, write)| Op::Io { open, off, len, write }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn matches_naive_model(ops in proptest::collection::vec(op(), 1..300)) {
        let t0 = Instant::now();
        let mut core = LockCore::new(Config::default());
        for o in 1..=OPENS {
            let r = req(1, o, AccessMask::FILE_ALL_ACCESS, ShareAccess::ALL, RequestedCaching::None);
            let granted = matches!(core.handle_create(t0, r), CreateOutcome::Granted { .. });
            prop_assert!(granted);
        }
        let mut naive = Naive::default();
        for (i, op) in ops.iter().enumerate() {
            let rq = RequestId(i as u64);
            match *op {
                Op::Lock { open, off, len, excl } => {
                    let got = core.handle_lock(t0, OpenId(open), rq, &[LockElement::lock(off, len, excl, true)]);
                    prop_assert_eq!(got, LockOutcome::Done(naive.lock(open, off, len, excl)), "{:?}", op);
                }
                Op::Unlock { open, off, len } => {
                    let got = core.handle_lock(t0, OpenId(open), rq, &[LockElement::unlock(off, len)]);
                    let want = if len > 0 && off as u128 + len as u128 - 1 > u64::MAX as u128 {
                        NtStatus::INVALID_LOCK_RANGE
                    } else {
                        naive.unlock(open, off, len)
                    };
                    prop_assert_eq!(got, LockOutcome::Done(want), "{:?}", op);
                }
                Op::Io { open, off, len, write } => {
                    prop_assert_eq!(core.check_io(OpenId(open), off, len, write), naive.io(open, off, len, write), "{:?}", op);
                }
            }
        }
    }
}
