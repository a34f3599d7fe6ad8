//! The FTL as a [`Backend`](crate::backend::Backend): zcftl's `Ftl` over
//! the simulated NAND image, caching in the daemon's slot pool
//! ([`PoolMemory`]).
//!
//! The FTL sits behind one mutex, taken for its table updates only
//! (`begin_*`, `commit_write`/`abort_write`, `end_read`, trim, flush); the
//! kernel copy into or out of the granted slots runs with the lock released,
//! so queues overlap their copies, each on a lease of its slots taken from
//! the FTL's memory under the lock (see `sys/slots.rs`). So do two NAND
//! transfers, through a second descriptor of the image file
//! ([`ImageReader`]): a read miss's page load (`Ftl::start_read` hands it
//! out, `Ftl::resume_read` takes it back) and a flush's `fsync`
//! (`Ftl::flush_without_sync` programs under the lock). Page programs, and
//! GC's reads and programs, still run under it.
//!
//! `begin_write`/`begin_read` may report the cache exhausted (every slot
//! held by commands in flight or dirty). The first answer is a flush, which
//! programs the partly filled page and makes its slots evictable; after
//! that other queues' requests must finish, so the request backs off and
//! retries for at most [`RETRY_BUDGET`] before failing with EIO.
//!
//! **Crash journal.** With a journal (`journal.rs`) the slot pool lives in
//! a shared file, and every release of the FTL lock publishes what a crash
//! would lose (the guard `Held` does it on drop, so no path forgets);
//! commits and trims publish their intent first. Requests complete only
//! after their lock is released, so whatever the kernel was told is done
//! is in the journal or on the image. Opening replays a journal left by a
//! crashed daemon before the device serves anything.
//!
//! Files: `open.rs` (format or mount, replay), `lock.rs` (the mutex and
//! the journal it publishes), `io.rs` (the data path and cache retries),
//! `stats.rs`, `error.rs`, `timing.rs` (lock wait and hold times, for
//! benchmarks); tests in `tests.rs` and `kill_tests.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ftl_core::{Error, Ftl, FtlConfig};
use simulator::{ImageReader, NandPart};

use crate::slots::{PoolHandle, PoolMemory, MAX_IO_BLOCKS};

mod error;
mod io;
mod lock;
mod open;
mod stats;
mod timing;

pub use error::{OpenError, ReplayError};
pub use open::{JournalAt, Replayed};
pub use stats::stats_of;
pub use timing::{drain_lock_times, LockTime};

use lock::{Held, Locked};

/// How long a request waits for cache space before failing.
pub const RETRY_BUDGET: Duration = Duration::from_secs(5);
/// Cache size: 64 MiB of slots, or the FTL's minimum if that is more.
pub const CACHE_BYTES: usize = 64 << 20;

type SimFtl = Ftl<NandPart, PoolMemory>;
type FtlError = Error<simulator::SimError>;

/// How the FTL is sized for `handles` ublk tags.
pub fn ftl_config(handles: u32) -> FtlConfig {
    FtlConfig {
        handles,
        max_io_sectors: MAX_IO_BLOCKS as u32,
        ..FtlConfig::default()
    }
}

/// The FTL behind a lock, and the pool its slots live in.
pub struct FtlBackend {
    state: Mutex<Locked>,
    /// The image read and synced outside the lock (`io.rs`), if it can be.
    reader: Option<ImageReader>,
    /// The pool's epochs (for journal records) and facts (for stats).
    pool: PoolHandle,
    blocks: u64,
    /// Bytes of zeros written into slots for WRITE_ZEROES (not a copy of
    /// host payload, so not in `user_copy_bytes_memcpy`).
    zero_fill_bytes: AtomicU64,
    /// The crash journal's file, removed after a clean shutdown.
    journal_path: Option<PathBuf>,
    /// What opening replayed from a crashed daemon's journal.
    replayed: Replayed,
    /// Whether lock acquisitions are timed (benchmarks only).
    timed: AtomicBool,
    /// Reads and writes in progress, all queues (`io.rs`): a read miss
    /// is loaded outside the lock only when another request could use it.
    /// Shards count together ([`FtlBackend::count_in_flight_with`]).
    in_flight: Arc<AtomicU32>,
}

impl FtlBackend {
    /// What opening replayed.
    pub fn replayed(&self) -> Replayed {
        self.replayed
    }

    /// Keeps every NAND transfer under the FTL lock, as without an image
    /// reader. For benchmarks that compare the two: the daemon never calls
    /// this.
    pub fn without_image_reader(mut self) -> Self {
        self.reader = None;
        self
    }

    /// Counts requests in progress in `count`, shared with the other
    /// shards of a device. Another request anywhere may come to this shard
    /// while a miss loads: loaded outside the lock whenever the device has
    /// another in progress, two threads' random reads on four shards
    /// waited 2-4 % of their time for a lock, against 13-17 % counting
    /// per shard (docs/BENCHMARKS.md, *Shards*).
    pub fn count_in_flight_with(&mut self, count: Arc<AtomicU32>) {
        self.in_flight = count;
    }

    /// Whether read misses are loaded and flushes synced outside the lock.
    pub fn transfers_outside_lock(&self) -> bool {
        self.reader.is_some()
    }

    /// Times (`on`) or stops timing every later acquisition of the FTL
    /// lock, on the thread that makes it ([`drain_lock_times`]). For
    /// benchmarks: the daemon never calls this.
    pub fn time_lock(&self, on: bool) {
        self.timed.store(on, Ordering::Relaxed);
    }

    fn lock(&self) -> Held<'_> {
        let asked = self.timed.load(Ordering::Relaxed).then(Instant::now);
        // A panic aborts the daemon (daemon.rs), so poison is never observed
        // by a live request; take the guard either way.
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Held {
            g,
            pool: &self.pool,
            stamp: asked.map(|asked| timing::Stamp {
                asked,
                got: Instant::now(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::{block as tests_block, into_nand as tests_into_nand, Op as TestOp};

#[cfg(test)]
mod kill_tests;
