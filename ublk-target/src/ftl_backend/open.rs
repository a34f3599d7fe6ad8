//! Opening the backend: format or mount the FTL, map its slot pool
//! (private, or inside the image's crash journal), and replay a journal a
//! crashed daemon left, flushing it to the image before the new journal
//! replaces the old one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use ftl_core::{Error, Ftl, FtlConfig, Handle, Lba};
use simulator::NandPart;

use super::io::lend_write;
use super::lock::Locked;
use super::{ftl_config, FtlBackend, OpenError, ReplayError, SimFtl};
use crate::journal::{ImageId, Journal, Record};
use crate::slots::{PoolMemory, SlotPool, MAX_IO_BLOCKS};

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

/// Formats (`fresh`) or mounts the FTL on `nand`, caching in `pool`.
fn mount(nand: NandPart, fresh: bool, pool: SlotPool, cfg: FtlConfig) -> Result<SimFtl, OpenError> {
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
        nand: NandPart,
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
        nand: NandPart,
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
        let path = id.journal_path(at.dir, nand.index());
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
        // NAND transfers outside the lock need a second descriptor of the
        // image; without one (a RAM array, read faults), they stay inside.
        let reader = match ftl.nand().reader() {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                log::warn!("image reads and syncs stay under the FTL lock: {e}");
                None
            }
            None => None,
        };
        let b = FtlBackend {
            reader,
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
            timed: AtomicBool::new(false),
            in_flight: Arc::default(),
        };
        // The first publish: an empty list (everything is on the image).
        drop(b.lock());
        b
    }
}
