//! The FTL as a [`Backend`]: zcftl's `Ftl` over the simulated NAND image,
//! caching in the daemon's [`SlotPool`].
//!
//! The FTL sits behind one mutex, taken for its table updates only
//! (`begin_*`, `commit_write`/`abort_write`, `end_read`, trim, flush); the
//! kernel copy into or out of the granted slots runs with the lock released,
//! so queues overlap their copies. The grant contract (see `slots.rs`) is
//! what makes that safe.
//!
//! `begin_write`/`begin_read` may report the cache exhausted (every slot
//! held by commands in flight or dirty). The first answer is a flush, which
//! programs the partly filled page and makes its slots evictable; after
//! that other queues' requests must finish, so the request backs off and
//! retries for at most [`RETRY_BUDGET`] before failing with EIO.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ftl_core::{Error, Ftl, FtlConfig, Handle, Lba, Segment, SlotId, SlotMemory, Stats};
use simulator::SimNand;

use crate::backend::{Backend, IoError, Transfer};
use crate::slots::{IoList, SlotPool, MAX_IO_BLOCKS};
use crate::spec::BLOCK_SIZE;

/// How long a request waits for cache space before failing.
pub const RETRY_BUDGET: Duration = Duration::from_secs(5);
/// Cache size: 64 MiB of slots, or the FTL's minimum if that is more.
pub const CACHE_BYTES: usize = 64 << 20;

type SimFtl = Ftl<SimNand, PoolMemory>;
type FtlError = Error<simulator::SimError>;

/// The daemon's slot pool as the FTL's [`SlotMemory`].
pub struct PoolMemory(Arc<SlotPool>);

impl SlotMemory for PoolMemory {
    fn slot_count(&self) -> u32 {
        self.0.slot_count()
    }
    fn slot_size(&self) -> usize {
        BLOCK_SIZE as usize
    }
    fn slot(&self, id: SlotId) -> &[u8] {
        self.0.slot(id.0)
    }
    fn slot_mut(&mut self, id: SlotId) -> &mut [u8] {
        self.0.slot_mut(id.0)
    }
    fn slots_mut<'a>(&'a mut self, ids: &[SlotId], out: &mut [&'a mut [u8]]) {
        for (o, id) in out.iter_mut().zip(ids) {
            *o = self.0.slot_mut(id.0);
        }
    }
}

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
    ftl: Mutex<SimFtl>,
    pool: Arc<SlotPool>,
    blocks: u64,
    /// Bytes of zeros written into slots for WRITE_ZEROES (not a copy of
    /// host payload, so not in `user_copy_bytes_memcpy`).
    zero_fill_bytes: AtomicU64,
}

fn map_err(e: FtlError) -> IoError {
    match e {
        Error::OutOfRange => IoError::OutOfRange,
        Error::NoSpace => IoError::NoSpace,
        Error::CacheExhausted => IoError::CacheBusy,
        Error::Uncorrectable { lba } => IoError::Media(format!("uncorrectable data at {lba}")),
        other => IoError::Backend(other.to_string()),
    }
}

impl FtlBackend {
    /// Formats (`fresh`) or mounts the FTL on `nand` for `handles` tags,
    /// with a slot cache of about `cache_bytes` (at least the FTL's minimum).
    pub fn new(
        nand: SimNand,
        fresh: bool,
        handles: u32,
        cache_bytes: usize,
    ) -> Result<FtlBackend, String> {
        let cfg = ftl_config(handles);
        let geo = ftl_core::Nand::geometry(&nand);
        let slots = cfg.slots_for_budget(&geo, cache_bytes);
        let pool =
            Arc::new(SlotPool::new(slots).map_err(|e| format!("cannot map the slot pool: {e}"))?);
        let mem = PoolMemory(pool.clone());
        let ftl = if fresh {
            Ftl::format(nand, mem, cfg)
        } else {
            Ftl::open(nand, mem, cfg)
        };
        let ftl = ftl.map_err(|e| match e {
            Error::Foreign => "the image holds no zcftl FTL (never formatted?): run `ftl-ublk format --image PATH` (erases it)".to_string(),
            Error::Corrupted => "the FTL on the image is inconsistent and cannot be mounted: use another --image, or `ftl-ublk format` it (erases it)".to_string(),
            other => format!("cannot mount the FTL: {other}"),
        })?;
        let blocks = ftl.logical_sectors();
        Ok(FtlBackend {
            ftl: Mutex::new(ftl),
            pool,
            blocks,
            zero_fill_bytes: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SimFtl> {
        // A panic aborts the daemon (daemon.rs), so poison is never observed
        // by a live request; take the guard either way.
        self.ftl.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `begin` until it stops reporting the cache exhausted: the first
    /// time after a flush, then with backoff, within [`RETRY_BUDGET`].
    fn with_cache<T>(
        &self,
        mut begin: impl FnMut(&mut SimFtl) -> Result<T, FtlError>,
    ) -> Result<(MutexGuard<'_, SimFtl>, T), IoError> {
        let start = Instant::now();
        let mut flushed = false;
        let mut pause = Duration::from_micros(50);
        loop {
            let mut ftl = self.lock();
            match begin(&mut ftl) {
                Ok(v) => return Ok((ftl, v)),
                Err(Error::CacheExhausted) if !flushed => {
                    flushed = true;
                    ftl.flush().map_err(map_err)?;
                }
                Err(Error::CacheExhausted) if start.elapsed() < RETRY_BUDGET => {
                    drop(ftl);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(e) => return Err(map_err(e)),
            }
        }
    }
}

impl Backend for FtlBackend {
    fn blocks(&self) -> u64 {
        self.blocks
    }

    fn read(&self, h: u32, lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError> {
        let mut list = IoList::new(&self.pool);
        let (ftl, grant) = self.with_cache(|f| f.begin_read(Handle(h), Lba(lba), n))?;
        let mut built = Ok(());
        for seg in ftl.read_segments(&grant) {
            built = built.and_then(|()| match *seg {
                Segment::Slot(s) => list.push_slot(&self.pool, s.0),
                Segment::Zero => list.push_zero(&self.pool),
            });
        }
        drop(ftl);
        // The kernel copy, outside the lock: the slots stay pinned.
        let moved = built.and_then(|()| xfer.copy_out(&list));
        let mut ftl = self.lock();
        ftl.end_read(grant);
        let got = moved?;
        if got != list.bytes() {
            return Err(IoError::ShortCopy {
                want: list.bytes(),
                got,
            });
        }
        if xfer.user_space_copy() {
            ftl.note_bytes_copied(got as u64);
        }
        Ok(())
    }

    fn write(
        &self,
        h: u32,
        lba: u64,
        n: u32,
        fua: bool,
        xfer: &mut dyn Transfer,
    ) -> Result<(), IoError> {
        let mut list = IoList::new(&self.pool);
        let (ftl, grant) = self.with_cache(|f| f.begin_write(Handle(h), Lba(lba), n))?;
        let built = ftl
            .write_slots(&grant)
            .iter()
            .try_for_each(|s| list.push_slot(&self.pool, s.0));
        drop(ftl);
        // The kernel copy, outside the lock: the FTL does not touch granted slots.
        let moved = built.and_then(|()| xfer.copy_in(&list));
        let mut ftl = self.lock();
        let got = match moved {
            Ok(got) if got == list.bytes() => got,
            Ok(got) => {
                ftl.abort_write(grant);
                return Err(IoError::ShortCopy {
                    want: list.bytes(),
                    got,
                });
            }
            Err(e) => {
                ftl.abort_write(grant);
                return Err(e);
            }
        };
        ftl.commit_write(grant).map_err(map_err)?;
        if xfer.user_space_copy() {
            ftl.note_bytes_copied(got as u64);
        }
        if fua {
            ftl.flush().map_err(map_err)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), IoError> {
        self.lock().flush().map_err(map_err)
    }

    fn discard(&self, lba: u64, n: u32) -> Result<(), IoError> {
        self.lock().trim(Lba(lba), n).map_err(map_err)
    }

    fn write_zeroes(&self, h: u32, lba: u64, n: u32) -> Result<(), IoError> {
        // Not `Ftl::write_zeroes`: that is a trim, which lives only in RAM
        // until the FTL persists trims, so zeroed blocks could come back
        // with old data after a restart (think of a journal re-appearing
        // under mkfs). Real zero sectors are durable after the next flush.
        let mut done = 0;
        while done < n {
            let k = (n - done).min(MAX_IO_BLOCKS as u32);
            let at = lba + u64::from(done);
            let (ftl, grant) = self.with_cache(|f| f.begin_write(Handle(h), Lba(at), k))?;
            let mut ids = [0u32; MAX_IO_BLOCKS];
            let granted = ftl.write_slots(&grant);
            for (d, s) in ids.iter_mut().zip(granted) {
                *d = s.0;
            }
            let ids = &ids[..granted.len().min(MAX_IO_BLOCKS)];
            drop(ftl);
            for &s in ids {
                // Granted to this request: the FTL does not touch it until commit.
                self.pool.slot_mut(s).fill(0);
            }
            self.zero_fill_bytes
                .fetch_add((ids.len() * BLOCK_SIZE as usize) as u64, Ordering::Relaxed);
            self.lock().commit_write(grant).map_err(map_err)?;
            done += k;
        }
        Ok(())
    }

    fn shutdown(&self) -> Result<(), IoError> {
        self.flush()?;
        // A checkpoint at a clean stop leaves the next mount nothing to
        // replay past it.
        self.lock().checkpoint().map_err(map_err)
    }

    fn stats(&self) -> Vec<(&'static str, serde_json::Value)> {
        let s: Stats = self.lock().stats();
        vec![
            ("target", "ftl".into()),
            ("write_amplification", s.write_amplification().into()),
            ("host_sectors_written", s.host_sectors_written.into()),
            ("host_sectors_read", s.host_sectors_read.into()),
            ("nand_sectors_written", s.nand_sectors_written.into()),
            ("nand_sectors_read", s.nand_sectors_read.into()),
            ("gc_runs", s.gc_runs.into()),
            ("gc_moved_sectors", s.gc_moved_sectors.into()),
            ("erases", s.erases.into()),
            ("erase_count_min", s.erase_count_min.into()),
            ("erase_count_max", s.erase_count_max.into()),
            ("cache_hits", s.cache_hits.into()),
            ("cache_misses", s.cache_misses.into()),
            ("cache_hit_rate", s.cache_hit_rate().into()),
            ("ftl_bytes_copied", s.bytes_copied.into()),
            ("trimmed_sectors", s.trimmed_sectors.into()),
            ("flushes", s.flushes.into()),
            ("bad_blocks", s.bad_blocks.into()),
            (
                "zero_fill_bytes",
                self.zero_fill_bytes.load(Ordering::Relaxed).into(),
            ),
            ("slots", self.pool.slot_count().into()),
            ("slots_mlocked", self.pool.is_locked().into()),
        ]
    }
}

#[cfg(test)]
#[path = "ftl_backend_tests.rs"]
mod tests;
