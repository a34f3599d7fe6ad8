//! How long requests wait for the FTL lock and hold it, for benchmarks
//! (`examples/lock_contention.rs`); off unless
//! [`FtlBackend::time_lock`](super::FtlBackend::time_lock) turns it on,
//! and the daemon never does.
//!
//! Each acquisition is recorded on the thread that made it, so measuring
//! adds no shared state, and no contention, of its own. A hold ends after
//! the guard's journal publish, which runs under the lock.

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// One acquisition of the FTL lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockTime {
    /// From asking for the lock to getting it.
    pub wait: Duration,
    /// From getting it to releasing it (the journal publish included).
    pub hold: Duration,
}

thread_local! {
    static TIMES: RefCell<Vec<LockTime>> = const { RefCell::new(Vec::new()) };
}

/// When a timed acquisition asked for the lock and got it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamp {
    pub(super) asked: Instant,
    pub(super) got: Instant,
}

impl Stamp {
    /// Records the acquisition as released now.
    pub(super) fn release(self) {
        let t = LockTime {
            wait: self.got - self.asked,
            hold: self.got.elapsed(),
        };
        TIMES.with(|v| v.borrow_mut().push(t));
    }
}

/// Hands `f` this thread's acquisitions since the last call, oldest first,
/// and forgets them.
pub fn drain_lock_times(mut f: impl FnMut(LockTime)) {
    TIMES.with(|v| v.borrow_mut().drain(..).for_each(&mut f));
}
