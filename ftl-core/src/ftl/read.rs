//! The read path, with read misses loadable outside the caller's lock.
//!
//! Zero-copy reads: [`Ftl::begin_read`] names, per sector, the slot holding
//! the data and pins it until [`Ftl::end_read`]; a miss loads its page from
//! flash into free slots inside the call (the patent's read-miss flow).
//!
//! A front end that serves several queues through one lock on the FTL
//! splits that call, so no queue waits through another's NAND read:
//! [`Ftl::start_read`] stops at the first miss and hands back a
//! [`PageLoad`] — the page to read and the free slots taken for it. The
//! front end reads the page with its lock released, checks it with
//! [`PageLoad::verify`] (still unlocked: the crc of a page is the costly
//! part) and gives the [`LoadedPage`] to [`Ftl::resume_read`], which adopts
//! the sectors that are still current *then* and locates the next sector.
//!
//! The load is optimistic: nothing holds the block while it is read. If GC
//! moved its data and erased it meanwhile, the block's erase count moved
//! and the load is dropped; sectors superseded meanwhile are never adopted,
//! because adoption asks the map as it is at [`Ftl::resume_read`]. A page
//! that fails verification outside the lock is read again under it, where a
//! failure is the media's. Each sector gets at most one load outside the
//! lock, so every read ends.

use crate::addr::{Handle, Lba, Ppa, Psa, SlotId};
use crate::error::Error;
use crate::format::oob::PageRecord;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::map::Mapping;
use crate::nand::Nand;
use crate::slot::{SlotMemory, SlotState};

use super::media::{verify_page, ReadFailure};
use super::{Ftl, FtlResult};

/// Where one sector of a read lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// In this slot (pinned until the read ends).
    Slot(SlotId),
    /// Never written or trimmed: reads as zeros.
    Zero,
}

/// A read in flight: its segments stay valid until [`Ftl::end_read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a read grant must be ended to unpin its slots"]
pub struct ReadGrant {
    /// The command handle.
    pub handle: Handle,
    /// First LBA read.
    pub lba: Lba,
    /// Sectors read.
    pub sectors: u32,
}

/// Where a read stands after [`Ftl::start_read`] or [`Ftl::resume_read`].
#[derive(Debug)]
#[must_use = "a read step holds slots until the read is served or resumed"]
pub enum ReadStep {
    /// Every sector is located: serve the grant, then end it.
    Ready(ReadGrant),
    /// A sector is on flash: read this page, verify it, resume.
    Load(PageLoad),
}

/// A page to read into free slots the FTL took for it.
#[derive(Debug)]
#[must_use = "a page load must be given back to Ftl::resume_read"]
pub struct PageLoad {
    handle: Handle,
    ppa: Ppa,
    slots: [SlotId; MAX_SECTORS_PER_PAGE],
    spp: u8,
    /// `FtlConfig::data_checksums`.
    data_checksums: bool,
}

impl PageLoad {
    /// The read's command handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The page to read.
    pub fn ppa(&self) -> Ppa {
        self.ppa
    }

    /// The slots to read it into, one per sector in page order. Nothing
    /// else uses them until [`Ftl::resume_read`].
    pub fn slots(&self) -> &[SlotId] {
        &self.slots[..usize::from(self.spp)]
    }

    /// Checks the page as read into [`PageLoad::slots`]: `oob` is its spare
    /// area, `data` the slots' bytes in order. Touches no FTL state, so a
    /// front end calls it before taking its lock again.
    pub fn verify(self, oob: &[u8], data: &[&[u8]]) -> LoadedPage {
        let record = verify_page(
            usize::from(self.spp),
            self.data_checksums,
            oob,
            data.iter().copied(),
        );
        LoadedPage {
            load: self,
            record,
            read: true,
        }
    }

    /// The page could not be read (a device or I/O error): it is read
    /// again under the lock, where the error is the FTL's to report.
    pub fn failed(self) -> LoadedPage {
        LoadedPage {
            load: self,
            record: None,
            read: false,
        }
    }
}

/// A [`PageLoad`] after its read: the record if the page verified.
#[derive(Debug)]
#[must_use = "a loaded page must be given back to Ftl::resume_read"]
pub struct LoadedPage {
    load: PageLoad,
    record: Option<PageRecord>,
    /// Whether the page reached the slots (a read to count).
    read: bool,
}

/// One handle's read while it is being located.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    lba: Lba,
    sectors: u32,
    /// Sectors located so far (their segments are set and pinned).
    next: u32,
    /// The sector whose load went outside the lock, if any.
    tried_outside: Option<u32>,
    /// The load outside the lock: its page and the block's erase count
    /// when it was handed out.
    loading: Option<(Ppa, u32)>,
}

/// Reads being located, one per handle.
#[derive(Debug)]
pub(super) struct ReadsInFlight {
    progress: alloc::vec::Vec<Option<Progress>>,
    /// Pages loaded outside the lock and adopted.
    pub loaded_outside: u64,
    /// Pages loaded outside the lock and dropped (moved, erased or failed
    /// meanwhile): located again.
    pub dropped_outside: u64,
}

impl ReadsInFlight {
    pub fn new(handles: u32) -> Self {
        ReadsInFlight {
            progress: alloc::vec![None; handles as usize],
            loaded_outside: 0,
            dropped_outside: 0,
        }
    }

    pub fn ram_bytes(&self) -> usize {
        self.progress.capacity() * core::mem::size_of::<Option<Progress>>()
    }
}

/// What locating one sector found.
enum Located {
    Segment(Segment),
    Load(PageLoad),
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Starts a read of `sectors` sectors at `lba` on handle `h`, loading
    /// misses from flash inside the call; see [`Ftl::read_segments`].
    pub fn begin_read(&mut self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<ReadGrant, N> {
        self.open_read(h, lba, sectors)?;
        match self.advance_read(h, false)? {
            ReadStep::Ready(g) => Ok(g),
            ReadStep::Load(_) => unreachable!("a read located under the lock loaded its misses"),
        }
    }

    /// Starts a read like [`Ftl::begin_read`], but hands the first read
    /// miss back as a [`ReadStep::Load`] for the caller to read outside its
    /// lock (see the module's documentation).
    pub fn start_read(&mut self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<ReadStep, N> {
        self.open_read(h, lba, sectors)?;
        self.advance_read(h, true)
    }

    /// Takes back a page loaded outside the lock: adopts its sectors that
    /// are still current, then goes on locating the read's sectors.
    pub fn resume_read(&mut self, page: LoadedPage) -> FtlResult<ReadStep, N> {
        let LoadedPage { load, record, read } = page;
        let h = load.handle;
        let progress = self.check_handle(h).ok().and_then(|()| self.progress(h));
        let loading = progress.and_then(|p| p.loading);
        let Some((ppa, erase_count)) = loading.filter(|&(ppa, _)| ppa == load.ppa) else {
            // Not a load this FTL handed out (or handed out twice).
            return Err(Error::BadHandle);
        };
        self.set_loading(h, None);
        if read {
            self.media.count_read();
        }
        let block = ppa.block;
        let unmoved = erase_count != u32::MAX && self.flash.erase_count(block) == erase_count;
        match record.filter(|_| unmoved) {
            Some(rec) => {
                self.adopt(ppa, &rec, load.slots())
                    .inspect_err(|_| self.fail_read(h))?;
                self.reads.loaded_outside += 1;
            }
            None => {
                self.cache.release_slots(load.slots());
                self.reads.dropped_outside += 1;
            }
        }
        self.advance_read(h, true)
    }

    /// Where each sector of a read grant lives, in LBA order.
    pub fn read_segments(&self, g: &ReadGrant) -> &[Segment] {
        self.cache.segments(g.handle, g.sectors as usize)
    }

    /// Ends a read: its slots may be reused again.
    pub fn end_read(&mut self, g: ReadGrant) {
        if self.check_handle(g.handle).is_err()
            || !self.cache.read_open(g.handle)
            || self.progress(g.handle).is_some()
        {
            return;
        }
        self.cache.unpin_segments(g.handle, g.sectors as usize);
        self.cache.set_read_open(g.handle, false);
    }

    fn progress(&self, h: Handle) -> Option<Progress> {
        self.reads.progress[h.0 as usize]
    }

    fn set_loading(&mut self, h: Handle, loading: Option<(Ppa, u32)>) {
        if let Some(p) = self.reads.progress[h.0 as usize].as_mut() {
            p.loading = loading;
        }
    }

    /// Checks a new read and opens it on `h`.
    fn open_read(&mut self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        self.check_io(h, lba, sectors)?;
        if self.cache.read_open(h) {
            return Err(Error::BadHandle);
        }
        self.cache.set_read_open(h, true);
        self.reads.progress[h.0 as usize] = Some(Progress {
            lba,
            sectors,
            ..Progress::default()
        });
        Ok(())
    }

    /// Closes `h`'s read after an error: its located sectors are unpinned.
    fn fail_read(&mut self, h: Handle) {
        if let Some(p) = self.reads.progress[h.0 as usize].take() {
            self.cache.unpin_segments(h, p.next as usize);
            self.cache.set_read_open(h, false);
        }
    }

    /// Locates `h`'s sectors from where it stopped. With `outside`, a
    /// sector's first miss is handed back as a load.
    fn advance_read(&mut self, h: Handle, outside: bool) -> FtlResult<ReadStep, N> {
        let Some(mut p) = self.progress(h) else {
            return Err(Error::BadHandle);
        };
        while p.next < p.sectors {
            let lba = Lba(p.lba.0 + u64::from(p.next));
            let first_try = p.tried_outside != Some(p.next);
            match self.locate(h, lba, outside && first_try, first_try) {
                Ok(Located::Segment(seg)) => {
                    self.cache.set_segment(h, p.next as usize, seg);
                    p.next += 1;
                }
                Ok(Located::Load(load)) => {
                    p.tried_outside = Some(p.next);
                    p.loading = Some((load.ppa, self.flash.erase_count(load.ppa.block)));
                    self.reads.progress[h.0 as usize] = Some(p);
                    return Ok(ReadStep::Load(load));
                }
                Err(e) => {
                    self.reads.progress[h.0 as usize] = Some(p);
                    self.fail_read(h);
                    return Err(e);
                }
            }
        }
        self.reads.progress[h.0 as usize] = None;
        self.host.sectors_read += u64::from(p.sectors);
        Ok(ReadStep::Ready(ReadGrant {
            handle: h,
            lba: p.lba,
            sectors: p.sectors,
        }))
    }

    /// Finds the slot holding `lba`: a hit, zeros, a page load handed out
    /// (`outside`), or a page loaded here. `count_miss`: whether a miss is
    /// new (not the retry of a load outside).
    fn locate(
        &mut self,
        h: Handle,
        lba: Lba,
        outside: bool,
        count_miss: bool,
    ) -> FtlResult<Located, N> {
        if let Some(s) = self.cache.hit(lba) {
            return Ok(Located::Segment(Segment::Slot(s)));
        }
        let psa = match self.mapping(lba)? {
            Mapping::Unmapped => return Ok(Located::Segment(Segment::Zero)),
            Mapping::Lost => return Err(Error::Uncorrectable { lba }),
            Mapping::Flash(psa) => psa,
        };
        if count_miss {
            self.cache.note_miss();
        }
        let layout = *self.flash.layout();
        let (ppa, idx) = layout.ppa(psa);
        let spp = layout.spp as usize;
        let mut ids = [SlotId(0); MAX_SECTORS_PER_PAGE];
        let reserve = self.cache.host_reserve();
        self.cache
            .take_page_slots(SlotState::Clean, reserve, &mut ids[..spp])
            .map_err(|_| Error::CacheExhausted)?;
        if outside {
            return Ok(Located::Load(PageLoad {
                handle: h,
                ppa,
                slots: ids,
                spp: spp as u8,
                data_checksums: self.media.data_checksums(),
            }));
        }
        self.load(lba, psa, &ids[..spp])?;
        Ok(Located::Segment(Segment::Slot(ids[idx])))
    }

    /// Read miss under the lock: reads the page holding `psa` into `ids`
    /// (taken for it) and caches every sector of it that is still current.
    fn load(&mut self, lba: Lba, psa: Psa, ids: &[SlotId]) -> FtlResult<(), N> {
        let (ppa, idx) = self.flash.layout().ppa(psa);
        let rec = match self.read_into_slots(ppa, ids) {
            Ok(rec) if rec.lba(idx) == Some(lba) => rec,
            Ok(_) | Err(ReadFailure::Unreadable) => {
                self.cache.release_slots(ids);
                return Err(Error::Uncorrectable { lba });
            }
            Err(ReadFailure::Nand(e)) => {
                self.cache.release_slots(ids);
                return Err(Error::Nand(e));
            }
        };
        self.adopt(ppa, &rec, ids)
    }

    /// Page `ppa`, read into `ids` with record `rec`, becomes a clean cache
    /// entry of the sectors the map still places there; the other slots
    /// go back.
    fn adopt(&mut self, ppa: Ppa, rec: &PageRecord, ids: &[SlotId]) -> FtlResult<(), N> {
        let layout = *self.flash.layout();
        let mut current = [None; MAX_SECTORS_PER_PAGE];
        for (i, c) in current[..ids.len()].iter_mut().enumerate() {
            *c = rec
                .lba(i)
                .filter(|&l| self.flash.is_current_if_resident(l, layout.psa(ppa, i)));
        }
        self.cache
            .adopt_loaded(ppa, ids, &current[..ids.len()])
            .map_err(|_| Error::CacheExhausted)
    }
}
