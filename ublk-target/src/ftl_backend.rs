//! The FTL as a [`Backend`]: zcftl's `Ftl` over the simulated NAND image,
//! caching in the daemon's [`SlotPool`].
//!
//! The FTL sits behind one mutex, taken for its table updates only
//! (`begin_*`, `commit_write`/`abort_write`, `end_read`, trim, flush); the
//! kernel copy into or out of the granted slots runs with the lock released,
//! so queues overlap their copies, each on a lease of its slots taken from
//! the FTL's memory under the lock (see `slots.rs`).
//!
//! `begin_write`/`begin_read` may report the cache exhausted (every slot
//! held by commands in flight or dirty). The first answer is a flush, which
//! programs the partly filled page and makes its slots evictable; after
//! that other queues' requests must finish, so the request backs off and
//! retries for at most [`RETRY_BUDGET`] before failing with EIO.
//!
//! **Crash journal.** With a journal (`journal.rs`) the slot pool lives in
//! a shared file, and every release of the FTL lock publishes what a crash
//! would lose (the guard [`Held`] does it on drop, so no path forgets);
//! commits and trims publish their intent first. Requests complete only
//! after their lock is released, so whatever the kernel was told is done
//! is in the journal or on the image. Opening replays a journal left by a
//! crashed daemon before the device serves anything.

use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ftl_core::{Error, Ftl, FtlConfig, Handle, Lba, ReadGrant, Segment, SlotId, Stats, WriteGrant};
use simulator::SimNand;

use crate::backend::{Backend, IoError, Transfer};
use crate::journal::{ImageId, Journal, JournalError, Record};
use crate::slots::{PoolHandle, PoolMemory, ReadLease, SlotPool, WriteLease, MAX_IO_BLOCKS};
use crate::spec::BLOCK_SIZE;

/// How long a request waits for cache space before failing.
pub const RETRY_BUDGET: Duration = Duration::from_secs(5);
/// Cache size: 64 MiB of slots, or the FTL's minimum if that is more.
pub const CACHE_BYTES: usize = 64 << 20;

type SimFtl = Ftl<SimNand, PoolMemory>;

/// Filler for intent arrays.
const NO_RECORD: Record = Record::Trim { lba: 0, sectors: 0 };
type FtlError = Error<simulator::SimError>;

/// Why the FTL backend could not be opened. The CLI prints these after
/// `image PATH: `, so each names the way out.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// An image that was never formatted.
    #[error("the image holds no zcftl FTL (never formatted?): run `ftl-ublk format --image PATH` (erases it)")]
    NotFormatted,
    /// An FTL whose metadata contradicts itself.
    #[error("the FTL on the image is inconsistent and cannot be mounted: use another --image, or `ftl-ublk format` it (erases it)")]
    Inconsistent,
    /// Any other failure to format or mount.
    #[error("cannot mount the FTL: {0}")]
    Mount(FtlError),
    /// The private slot pool could not be mapped.
    #[error("cannot map the slot pool: {0}")]
    Pool(io::Error),
    /// The image's identity (which names its journal) is unknown.
    #[error("cannot stat the image: {0}")]
    StatImage(io::Error),
    /// A crashed daemon's journal that cannot be used.
    #[error("{0}; it holds writes acknowledged before a daemon crash: move it away to mount without them")]
    OldJournal(JournalError),
    /// The new journal could not be made.
    #[error("cannot create the crash journal {}: {source}", path.display())]
    CreateJournal {
        /// Where it was to be made.
        path: PathBuf,
        /// Why it was not.
        source: io::Error,
    },
    /// A journal too small for what this geometry can leave unflushed.
    #[error("the crash journal is too small for this geometry")]
    JournalTooSmall,
    /// Replaying a crashed daemon's journal failed.
    #[error("replaying the crash journal {}: {error}", path.display())]
    Replay {
        /// The journal.
        path: PathBuf,
        /// What went wrong.
        error: ReplayError,
    },
    /// The new journal could not replace the old one.
    #[error("cannot install the crash journal {}: {source}", path.display())]
    InstallJournal {
        /// Where it was to go.
        path: PathBuf,
        /// Why it did not.
        source: io::Error,
    },
}

/// Why a crashed daemon's journal could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Its list could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The image is older than the journal: not the image it was made on.
    #[error("the image (sequence {image}) is older than the journal (sequence {journal}): was the image replaced by an older copy?")]
    ImageOlder {
        /// The mounted image's sequence.
        image: u64,
        /// The sequence the journal was published at.
        journal: u64,
    },
    /// The FTL refused a record.
    #[error("a journal record does not apply: {0}")]
    Record(FtlError),
    /// No slot could be lent for a record's data.
    #[error("a journal record does not apply: {0}")]
    Slot(IoError),
    /// The replayed state could not be flushed to the image.
    #[error("flushing the replay: {0}")]
    Flush(FtlError),
}

/// Lends the slots of `grant` to its request for writing.
fn lend_write(ftl: &mut SimFtl, grant: &WriteGrant) -> Result<WriteLease, IoError> {
    let mut ids = [SlotId(0); MAX_IO_BLOCKS];
    let granted = ftl.write_slots(grant);
    let n = granted.len();
    ids.get_mut(..n)
        .ok_or_else(|| IoError::Backend("request larger than 512 KiB".into()))?
        .copy_from_slice(granted);
    Ok(ftl.slot_memory_mut().lend_write(&ids[..n])?)
}

/// Lends the slots of `grant` to its request for reading.
fn lend_read(ftl: &mut SimFtl, grant: &ReadGrant) -> Result<ReadLease, IoError> {
    let mut segs = [Segment::Zero; MAX_IO_BLOCKS];
    let found = ftl.read_segments(grant);
    let n = found.len();
    segs.get_mut(..n)
        .ok_or_else(|| IoError::Backend("request larger than 512 KiB".into()))?
        .copy_from_slice(found);
    Ok(ftl.slot_memory_mut().lend_read(&segs[..n])?)
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
    state: Mutex<Locked>,
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
}

/// Where an image's crash journal lives.
#[derive(Clone, Copy, Debug)]
pub struct JournalAt<'a> {
    /// The journal directory ([`crate::journal::JOURNAL_DIR`]).
    pub dir: &'a Path,
    /// The (open, locked) NAND image it belongs to.
    pub image: &'a Path,
}

/// What a replay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Whether a crashed daemon's journal was found and replayed.
    pub found: bool,
    /// Trim records applied.
    pub trims: u64,
    /// Blocks written back from the old slots.
    pub writes: u64,
    /// Write records skipped: their slot was reused, so the data was
    /// already on flash (or superseded by a later record).
    pub skipped: u64,
}

/// What the lock guards: the FTL and the journal that mirrors its RAM-only
/// state.
struct Locked {
    ftl: SimFtl,
    journal: Option<Journal>,
    /// Scratch for building a record list (sized once).
    records: Vec<Record>,
}

impl Locked {
    /// Publishes the FTL's unflushed writes and trims, then `intent`.
    fn publish(&mut self, pool: &PoolHandle, intent: &[Record]) -> Result<(), JournalError> {
        let Some(j) = self.journal.as_mut() else {
            return Ok(());
        };
        // Tests kill the daemon at a simulated NAND operation: nothing the
        // process does after that instant may reach the journal.
        #[cfg(test)]
        if self.ftl.nand().last_cut().is_some() {
            return Ok(());
        }
        let records = &mut self.records;
        records.clear();
        records.extend(self.ftl.unflushed_trims().map(|(l, n)| Record::Trim {
            lba: l.0,
            sectors: n,
        }));
        records.extend(self.ftl.unflushed_writes().map(|(l, s)| Record::Write {
            lba: l.0,
            slot: s.0,
            epoch: pool.epoch(s.0),
        }));
        records.extend_from_slice(intent);
        j.publish(self.ftl.sequence(), records)
    }
}

/// The locked FTL. Dropping it publishes the journal, before any request
/// served under it can complete.
struct Held<'a> {
    g: MutexGuard<'a, Locked>,
    pool: &'a PoolHandle,
}

impl Held<'_> {
    /// Publishes the journal with `intent` after the current state: call
    /// before an FTL change that acknowledges data (commit, trim).
    fn intend(&mut self, intent: &[Record]) -> Result<(), IoError> {
        self.g
            .publish(self.pool, intent)
            .map_err(|e| IoError::Backend(format!("crash journal: {e}")))
    }
}

impl Deref for Held<'_> {
    type Target = SimFtl;
    fn deref(&self) -> &SimFtl {
        &self.g.ftl
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut SimFtl {
        &mut self.g.ftl
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.g.publish(self.pool, &[]) {
            // Cannot happen (the journal is sized from the FTL's own bound);
            // if it did, say so where the operator looks.
            eprintln!("ftl-ublk: crash journal not updated: {e}");
        }
    }
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

/// Formats (`fresh`) or mounts the FTL on `nand`, caching in `pool`.
fn mount(nand: SimNand, fresh: bool, pool: SlotPool, cfg: FtlConfig) -> Result<SimFtl, OpenError> {
    let mem = PoolMemory::new(pool);
    let ftl = if fresh {
        Ftl::format(nand, mem, cfg)
    } else {
        Ftl::open(nand, mem, cfg)
    };
    ftl.map_err(|e| match e {
        Error::Foreign => OpenError::NotFormatted,
        Error::Corrupted => OpenError::Inconsistent,
        other => OpenError::Mount(other),
    })
}

/// Replays a crashed daemon's journal `old` (slots in `old_pool`) on the
/// freshly mounted `ftl`, then flushes: afterwards the image holds
/// everything the old daemon acknowledged.
fn replay(ftl: &mut SimFtl, old: &Journal, old_pool: &SlotPool) -> Result<Replayed, ReplayError> {
    let snap = old.read()?;
    if ftl.sequence() < snap.seq {
        return Err(ReplayError::ImageOlder {
            image: ftl.sequence(),
            journal: snap.seq,
        });
    }
    let mut r = Replayed {
        found: true,
        ..Replayed::default()
    };
    let bad = ReplayError::Record;
    for rec in snap.records {
        match rec {
            Record::Trim { lba, sectors } => {
                ftl.trim(Lba(lba), sectors).map_err(bad)?;
                r.trims += 1;
            }
            Record::Write { lba, slot, epoch } => {
                if slot >= old_pool.slot_count() || old_pool.epoch(slot) != epoch {
                    r.skipped += 1;
                    continue;
                }
                let g = ftl.begin_write(Handle(0), Lba(lba), 1).map_err(bad)?;
                let mut to = lend_write(ftl, &g).map_err(ReplayError::Slot)?;
                // The one copy a recovery makes: old slot to new slot.
                to.slot_mut(0).copy_from_slice(old_pool.slot(slot));
                drop(to);
                ftl.commit_write(g).map_err(bad)?;
                r.writes += 1;
            }
        }
    }
    ftl.flush().map_err(ReplayError::Flush)?;
    Ok(r)
}

impl FtlBackend {
    /// Formats (`fresh`) or mounts the FTL on `nand` for `handles` tags,
    /// with a slot cache of about `cache_bytes` (at least the FTL's minimum).
    /// With `journal`, the cache lives in the image's crash journal, and a
    /// journal a crashed daemon left is replayed (then flushed) first.
    pub fn new(
        nand: SimNand,
        fresh: bool,
        handles: u32,
        cache_bytes: usize,
        journal: Option<JournalAt<'_>>,
    ) -> Result<FtlBackend, OpenError> {
        Self::with_config(nand, fresh, ftl_config(handles), cache_bytes, journal)
    }

    /// [`FtlBackend::new`] with the FTL configured by `cfg` (tests use
    /// small I/O sizes, hence small caches that turn over constantly).
    pub fn with_config(
        nand: SimNand,
        fresh: bool,
        cfg: FtlConfig,
        cache_bytes: usize,
        journal: Option<JournalAt<'_>>,
    ) -> Result<FtlBackend, OpenError> {
        let geo = ftl_core::Nand::geometry(&nand);
        let slots = cfg.slots_for_budget(&geo, cache_bytes);
        let Some(at) = journal else {
            let pool = SlotPool::new(slots).map_err(OpenError::Pool)?;
            let ftl = mount(nand, fresh, pool, cfg)?;
            return Ok(FtlBackend::assemble(ftl, None, None, Replayed::default()));
        };
        let id = ImageId::of(at.image).map_err(OpenError::StatImage)?;
        let path = id.journal_path(at.dir);
        // A crashed daemon's journal: checked before anything is changed.
        let old = if !fresh && path.exists() {
            Some(Journal::open(&path, id).map_err(OpenError::OldJournal)?)
        } else {
            None
        };
        // The new journal is built beside the old one and replaces it only
        // once the old one's content is flushed to the image.
        let fresh_path = path.with_extension("journal.new");
        let most = geo.sectors_per_page() + geo.page_size as usize / 8;
        let capacity = (most + MAX_IO_BLOCKS + 1) as u32;
        let (journal, pool) =
            Journal::create(&fresh_path, id, at.image, slots, capacity).map_err(|source| {
                OpenError::CreateJournal {
                    path: fresh_path.clone(),
                    source,
                }
            })?;
        let opened = mount(nand, fresh, pool, cfg).and_then(|mut ftl| {
            let (w, t) = ftl.unflushed_capacity();
            if w + t + MAX_IO_BLOCKS + 1 > journal.capacity() {
                return Err(OpenError::JournalTooSmall);
            }
            let replayed = match &old {
                Some((j, old_pool)) => {
                    replay(&mut ftl, j, old_pool).map_err(|error| OpenError::Replay {
                        path: path.clone(),
                        error,
                    })?
                }
                None => Replayed::default(),
            };
            std::fs::rename(&fresh_path, &path).map_err(|source| OpenError::InstallJournal {
                path: path.clone(),
                source,
            })?;
            Ok((ftl, replayed))
        });
        drop(old);
        let (ftl, replayed) = opened.inspect_err(|_| {
            // Not installed: do not leave a pool's worth of RAM in /dev/shm.
            let _ = std::fs::remove_file(&fresh_path);
        })?;
        Ok(FtlBackend::assemble(
            ftl,
            Some(journal),
            Some(path),
            replayed,
        ))
    }

    fn assemble(
        ftl: SimFtl,
        journal: Option<Journal>,
        journal_path: Option<PathBuf>,
        replayed: Replayed,
    ) -> FtlBackend {
        let blocks = ftl.logical_sectors();
        let pool = ftl.slot_memory().handle();
        let records = Vec::with_capacity(journal.as_ref().map_or(0, Journal::capacity));
        let b = FtlBackend {
            state: Mutex::new(Locked {
                ftl,
                journal,
                records,
            }),
            pool,
            blocks,
            zero_fill_bytes: AtomicU64::new(0),
            journal_path,
            replayed,
        };
        // The first publish: an empty list (everything is on the image).
        drop(b.lock());
        b
    }

    /// What opening replayed.
    pub fn replayed(&self) -> Replayed {
        self.replayed
    }

    fn lock(&self) -> Held<'_> {
        // A panic aborts the daemon (daemon.rs), so poison is never observed
        // by a live request; take the guard either way.
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Held {
            g,
            pool: &self.pool,
        }
    }

    /// Runs `begin` until it stops reporting the cache exhausted: the first
    /// time after a flush, then with backoff, within [`RETRY_BUDGET`].
    fn with_cache<T>(
        &self,
        mut begin: impl FnMut(&mut SimFtl) -> Result<T, FtlError>,
    ) -> Result<(Held<'_>, T), IoError> {
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
        let (mut ftl, grant) = self.with_cache(|f| f.begin_read(Handle(h), Lba(lba), n))?;
        let lease = lend_read(&mut ftl, &grant);
        drop(ftl);
        let want = n as usize * BLOCK_SIZE as usize;
        // The kernel copy, outside the lock: the slots stay pinned, and
        // lent to this request until the lease drops.
        let moved = lease.and_then(|l| xfer.copy_out(&l.io_list()));
        let mut ftl = self.lock();
        ftl.end_read(grant);
        let got = moved?;
        if got != want {
            return Err(IoError::ShortCopy { want, got });
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
        let (mut ftl, grant) = self.with_cache(|f| f.begin_write(Handle(h), Lba(lba), n))?;
        // Lending moves the slots' epochs: their content is about to change.
        let lease = lend_write(&mut ftl, &grant);
        let mut intent = [NO_RECORD; MAX_IO_BLOCKS];
        let ids = lease.as_ref().map_or(&[][..], WriteLease::ids);
        for (i, (&s, r)) in ids.iter().zip(intent.iter_mut()).enumerate() {
            *r = Record::Write {
                lba: lba + i as u64,
                slot: s,
                epoch: self.pool.epoch(s),
            };
        }
        let intent = &intent[..ids.len()];
        drop(ftl);
        let want = n as usize * BLOCK_SIZE as usize;
        // The kernel copy, outside the lock, into slots lent to this request
        // alone until the lease drops.
        let moved = lease.and_then(|mut l| xfer.copy_in(&l.io_list()));
        let mut ftl = self.lock();
        let got = match moved {
            Ok(got) if got == want => got,
            Ok(got) => {
                ftl.abort_write(grant);
                return Err(IoError::ShortCopy { want, got });
            }
            Err(e) => {
                ftl.abort_write(grant);
                return Err(e);
            }
        };
        if let Err(e) = ftl.intend(intent) {
            ftl.abort_write(grant);
            return Err(e);
        }
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
        let mut ftl = self.lock();
        ftl.intend(&[Record::Trim { lba, sectors: n }])?;
        ftl.trim(Lba(lba), n).map_err(map_err)
    }

    fn write_zeroes(&self, h: u32, lba: u64, n: u32) -> Result<(), IoError> {
        // WRITE_ZEROES with NOUNMAP: real zero sectors, programmed like a
        // WRITE (without it, dispatch sends a discard: a trim).
        let mut done = 0;
        while done < n {
            let k = (n - done).min(MAX_IO_BLOCKS as u32);
            let at = lba + u64::from(done);
            let (mut ftl, grant) = self.with_cache(|f| f.begin_write(Handle(h), Lba(at), k))?;
            // Lent to this request, the epochs moved before the zeros land.
            let mut lease = match lend_write(&mut ftl, &grant) {
                Ok(l) => l,
                Err(e) => {
                    ftl.abort_write(grant);
                    return Err(e);
                }
            };
            let mut intent = [NO_RECORD; MAX_IO_BLOCKS];
            let n = lease.ids().len();
            for (i, r) in intent.iter_mut().enumerate().take(n) {
                lease.slot_mut(i).fill(0);
                let slot = lease.ids()[i];
                *r = Record::Write {
                    lba: at + i as u64,
                    slot,
                    epoch: self.pool.epoch(slot),
                };
            }
            let intent = &intent[..lease.ids().len()];
            drop(lease);
            self.zero_fill_bytes.fetch_add(
                (intent.len() * BLOCK_SIZE as usize) as u64,
                Ordering::Relaxed,
            );
            if let Err(e) = ftl.intend(intent) {
                ftl.abort_write(grant);
                return Err(e);
            }
            ftl.commit_write(grant).map_err(map_err)?;
            done += k;
        }
        Ok(())
    }

    fn shutdown(&self) -> Result<(), IoError> {
        self.flush()?;
        // A checkpoint at a clean stop leaves the next mount nothing to
        // replay past it.
        self.lock().checkpoint().map_err(map_err)?;
        // Everything is on the image: the journal has nothing left to say.
        if let Some(p) = &self.journal_path {
            let _ = std::fs::remove_file(p);
        }
        Ok(())
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
            (
                "crash_journal",
                self.journal_path
                    .as_ref()
                    .map_or(serde_json::Value::Null, |p| p.display().to_string().into()),
            ),
            ("journal_replayed_writes", self.replayed.writes.into()),
            ("journal_replayed_trims", self.replayed.trims.into()),
            ("journal_skipped_writes", self.replayed.skipped.into()),
        ]
    }
}

/// Test access to the simulated NAND, and a daemon's death (its FTL RAM
/// dropped, the NAND kept).
#[cfg(test)]
impl FtlBackend {
    fn with_nand<T>(&self, f: impl FnOnce(&mut SimNand) -> T) -> T {
        f(self.lock().nand_mut())
    }

    fn into_nand(self) -> SimNand {
        let locked = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        locked.ftl.into_parts().0
    }
}

#[cfg(test)]
#[path = "ftl_backend_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "kill_tests.rs"]
mod kill_tests;
