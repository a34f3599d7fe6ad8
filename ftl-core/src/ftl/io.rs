//! The public data path.
//!
//! Zero-copy writes: [`Ftl::begin_write`] hands out the slots the write map
//! holds for the command handle, the front end fills them, and
//! [`Ftl::commit_write`] records them (the patent's write flow). Zero-copy
//! reads: [`Ftl::begin_read`] names, per sector, the slot holding the data
//! (loading misses from flash into free slots) and pins it until
//! [`Ftl::end_read`]. [`Ftl::write`] and [`Ftl::read`] wrap both with one
//! copy each, counted in [`Stats::bytes_copied`](crate::Stats).

use crate::addr::{Handle, Lba, SlotId};
use crate::blocks::Stream;
use crate::error::Error;
use crate::l2p::{LOST, UNMAPPED};
use crate::nand::Nand;
use crate::slot::{SlotMemory, SlotState};
use crate::write_map::WriteGrant;

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

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    fn check_range(&self, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        let end = lba
            .0
            .checked_add(u64::from(sectors))
            .ok_or(Error::OutOfRange)?;
        if sectors == 0 || end > self.logical {
            return Err(Error::OutOfRange);
        }
        Ok(())
    }

    fn check_io(&self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        self.check_handle(h)?;
        if sectors > self.cfg.max_io_sectors {
            return Err(Error::OutOfRange);
        }
        self.check_range(lba, sectors)
    }

    /// Starts a write of `sectors` sectors at `lba` on handle `h`: returns
    /// the grant whose [`Ftl::write_slots`] the front end fills.
    ///
    /// Fails with [`Error::CacheExhausted`] when commands in flight hold
    /// every slot; retry once some complete.
    pub fn begin_write(&mut self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<WriteGrant, N> {
        self.check_io(h, lba, sectors)?;
        if self.write_map.is_open(h) {
            return Err(Error::BadHandle);
        }
        self.acquiring = Some(h);
        while self.write_map.owned(h) < sectors as usize {
            match self.take_slot(SlotState::Reserved, self.host_reserve()) {
                Ok(slot) => self.write_map.add_slot(h, slot),
                Err(e) => {
                    self.acquiring = None;
                    return Err(e);
                }
            }
        }
        self.acquiring = None;
        Ok(self.write_map.open(h, lba, sectors))
    }

    /// The slots of a write grant, one per sector in LBA order.
    pub fn write_slots(&self, g: &WriteGrant) -> &[SlotId] {
        self.write_map.grant_slots(g)
    }

    fn check_grant(&self, g: &WriteGrant) -> FtlResult<(), N> {
        self.check_handle(g.handle)?;
        if !self.write_map.is_open(g.handle) {
            return Err(Error::BadHandle);
        }
        Ok(())
    }

    /// Commits a filled write: its slots become the LBAs' current data (a
    /// later read is a cache hit), the handle is topped up with fresh slots,
    /// and every full page of data is programmed.
    ///
    /// The data is acknowledged when this returns; it is durable after the
    /// next [`Ftl::flush`].
    pub fn commit_write(&mut self, g: WriteGrant) -> FtlResult<(), N> {
        self.check_grant(&g)?;
        let mut result = Ok(());
        for i in 0..g.sectors as usize {
            let slot = self.write_map.grant_slots(&g)[i];
            if result.is_ok() {
                result = self.host_append(Lba(g.lba.0 + i as u64), slot);
                if result.is_err() && self.slots.state(slot) == SlotState::Reserved {
                    self.slots.release(slot);
                }
            } else {
                // A fatal error part-way: the rest of the write is dropped.
                self.slots.release(slot);
            }
        }
        self.write_map.close_committed(&g);
        self.stats.host_sectors_written += u64::from(g.sectors);
        self.top_up(g.handle);
        result
    }

    /// Abandons a write: nothing changes, the handle keeps its slots.
    pub fn abort_write(&mut self, g: WriteGrant) {
        if self.check_grant(&g).is_ok() {
            self.write_map.close_aborted(&g);
        }
    }

    /// Refills `h`'s reserve to the prefill count, best effort.
    fn top_up(&mut self, h: Handle) {
        let want = usize::from(self.write_map.prefill());
        while self.write_map.owned(h) < want {
            match self.take_slot(SlotState::Reserved, self.host_reserve()) {
                Ok(s) => self.write_map.add_slot(h, s),
                Err(_) => break,
            }
        }
    }

    /// Makes `slot` the newest data of `lba`, programming the host group
    /// once it holds a page.
    fn host_append(&mut self, lba: Lba, slot: SlotId) -> FtlResult<(), N> {
        self.supersede_cached(lba);
        let e = self.fill_entry(Stream::Host)?;
        self.slots.set(slot, SlotState::Dirty);
        self.slot_entry[slot.0 as usize] = e.0;
        self.read_map.insert(lba, slot);
        if self
            .meta
            .push(e, slot, lba.0 as u32, crate::cache_meta::NONE)
        {
            self.program_fill(Stream::Host)?;
        }
        Ok(())
    }

    /// Starts a read of `sectors` sectors at `lba` on handle `h`; see
    /// [`Ftl::read_segments`].
    pub fn begin_read(&mut self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<ReadGrant, N> {
        self.check_io(h, lba, sectors)?;
        if self.read_open[h.0 as usize] {
            return Err(Error::BadHandle);
        }
        let base = (h.0 * self.cfg.max_io_sectors) as usize;
        for i in 0..sectors as usize {
            let l = Lba(lba.0 + i as u64);
            match self.locate(l) {
                Ok(seg) => self.read_segs[base + i] = seg,
                Err(e) => {
                    self.unpin_segments(base, i);
                    return Err(e);
                }
            }
        }
        self.read_open[h.0 as usize] = true;
        self.stats.host_sectors_read += u64::from(sectors);
        Ok(ReadGrant {
            handle: h,
            lba,
            sectors,
        })
    }

    /// Finds (loading if need be) and pins the slot holding `lba`.
    fn locate(&mut self, lba: Lba) -> FtlResult<Segment, N> {
        let slot = if let Some(s) = self.read_map.get(lba) {
            self.stats.cache_hits += 1;
            if let Some(e) = self.entry_of(s) {
                self.meta.touch(e);
            }
            s
        } else {
            match self.l2p.get(lba) {
                UNMAPPED => return Ok(Segment::Zero),
                LOST => return Err(Error::Uncorrectable { lba }),
                psa => {
                    self.stats.cache_misses += 1;
                    self.load(lba, psa)?
                }
            }
        };
        self.slots.pin(slot);
        Ok(Segment::Slot(slot))
    }

    fn unpin_segments(&mut self, base: usize, n: usize) {
        for i in 0..n {
            if let super::Segment::Slot(s) = self.read_segs[base + i] {
                self.slots.unpin(s);
            }
        }
    }

    /// Where each sector of a read grant lives, in LBA order.
    pub fn read_segments(&self, g: &ReadGrant) -> &[Segment] {
        let base = (g.handle.0 * self.cfg.max_io_sectors) as usize;
        &self.read_segs[base..base + g.sectors as usize]
    }

    /// Ends a read: its slots may be reused again.
    pub fn end_read(&mut self, g: ReadGrant) {
        if self.check_handle(g.handle).is_err() || !self.read_open[g.handle.0 as usize] {
            return;
        }
        let base = (g.handle.0 * self.cfg.max_io_sectors) as usize;
        self.unpin_segments(base, g.sectors as usize);
        self.read_open[g.handle.0 as usize] = false;
    }

    /// Discards `sectors` sectors at `lba`: they read as zeros until written
    /// again, and their flash copies become garbage for GC.
    pub fn trim(&mut self, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        let end = lba
            .0
            .checked_add(u64::from(sectors))
            .ok_or(Error::OutOfRange)?;
        if end > self.logical {
            return Err(Error::OutOfRange);
        }
        if sectors == 0 {
            return Ok(());
        }
        for l in lba.0..end {
            self.supersede_cached(Lba(l));
            let old = self.l2p.set(Lba(l), UNMAPPED);
            if old != UNMAPPED && old != LOST {
                // The old copy's block may not be erased before this trim
                // is in a trim record: after a cut, the checkpoint may still
                // point there.
                let b = self.layout.block(old);
                if !self.blocks.is_held(b) {
                    self.blocks.set_held(b, true);
                    self.held_blocks.push(b);
                }
                self.invalidate(old);
            }
        }
        self.stats.trimmed_sectors += u64::from(sectors);
        self.note_trim(lba.0, sectors)
    }

    /// Zeroes `sectors` sectors at `lba`. Unmapped sectors read as zeros,
    /// so this is a trim: no zeros are written to flash.
    pub fn write_zeroes(&mut self, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        self.trim(lba, sectors)
    }

    /// Makes every acknowledged write and trim durable: programs the partly
    /// filled host page (padded) and any pending trim record, and syncs the
    /// NAND.
    pub fn flush(&mut self) -> FtlResult<(), N> {
        self.program_fill(Stream::Host)?;
        self.log_trims()?;
        self.mark_pending_bad()?;
        self.nand.sync().map_err(Error::Nand)?;
        self.stats.flushes += 1;
        Ok(())
    }

    /// Writes `data` (whole sectors) at `lba`, copying it into slots: the
    /// convenience path for tests and simple embedders. Counts the copy.
    pub fn write(&mut self, lba: Lba, data: &[u8]) -> FtlResult<(), N> {
        let ss = self.sector_size();
        if data.len() % ss != 0 {
            return Err(Error::OutOfRange);
        }
        self.check_range(lba, (data.len() / ss) as u32)?;
        let h = self.internal_handle();
        let chunk = self.cfg.max_io_sectors as usize * ss;
        for (k, part) in data.chunks(chunk).enumerate() {
            let at = Lba(lba.0 + (k * chunk / ss) as u64);
            let g = self.begin_write(h, at, (part.len() / ss) as u32)?;
            for (i, sector) in part.chunks(ss).enumerate() {
                let slot = self.write_map.grant_slots(&g)[i];
                self.mem.slot_mut(slot).copy_from_slice(sector);
            }
            self.stats.bytes_copied += part.len() as u64;
            self.commit_write(g)?;
        }
        Ok(())
    }

    /// Reads whole sectors at `lba` into `buf`, copying out of the slots.
    /// Counts the copy.
    pub fn read(&mut self, lba: Lba, buf: &mut [u8]) -> FtlResult<(), N> {
        let ss = self.sector_size();
        if buf.len() % ss != 0 {
            return Err(Error::OutOfRange);
        }
        self.check_range(lba, (buf.len() / ss) as u32)?;
        let h = self.internal_handle();
        let chunk = self.cfg.max_io_sectors as usize * ss;
        for (k, part) in buf.chunks_mut(chunk).enumerate() {
            let at = Lba(lba.0 + (k * chunk / ss) as u64);
            let g = self.begin_read(h, at, (part.len() / ss) as u32)?;
            for (sector, seg) in part.chunks_mut(ss).zip(self.read_segments(&g)) {
                match *seg {
                    Segment::Slot(s) => sector.copy_from_slice(self.mem.slot(s)),
                    Segment::Zero => sector.fill(0),
                }
            }
            self.stats.bytes_copied += part.len() as u64;
            self.end_read(g);
        }
        Ok(())
    }
}
