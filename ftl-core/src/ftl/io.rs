//! The public data path.
//!
//! Zero-copy writes: [`Ftl::begin_write`] hands out the slots the write map
//! holds for the command handle, the front end fills them, and
//! [`Ftl::commit_write`] records them (the patent's write flow). Reads are
//! `read.rs`'s. [`Ftl::write`] and [`Ftl::read`] wrap both with one copy
//! each, counted in [`Stats::bytes_copied`](crate::Stats).
//!
//! Every update (commit, trim, flush) ends with [`Ftl::end_update`], where a
//! due checkpoint is written.

use crate::addr::{Handle, Lba, SlotId};
use crate::blocks::Stream;
use crate::error::Error;
use crate::nand::Nand;
use crate::slot::SlotMemory;
use crate::write_map::WriteGrant;

use super::{Ftl, FtlResult};

/// What the host asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct HostCounters {
    pub sectors_written: u64,
    pub sectors_read: u64,
    pub trimmed_sectors: u64,
    pub flushes: u64,
    pub bytes_copied_by_embedder: u64,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    pub(super) fn check_range(&self, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        let end = lba
            .0
            .checked_add(u64::from(sectors))
            .ok_or(Error::OutOfRange)?;
        if sectors == 0 || end > self.logical {
            return Err(Error::OutOfRange);
        }
        Ok(())
    }

    pub(super) fn check_handle(&self, h: Handle) -> FtlResult<(), N> {
        if h.0 < self.cache.handles() {
            Ok(())
        } else {
            Err(Error::BadHandle)
        }
    }

    pub(super) fn check_io(&self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<(), N> {
        self.check_handle(h)?;
        if sectors > self.cfg.max_io_sectors {
            return Err(Error::OutOfRange);
        }
        self.check_range(lba, sectors)
    }

    /// Records `bytes` of payload the embedder had to copy (e.g. a bounce
    /// buffer in a front end without zero-copy), so stats tell the truth.
    pub fn note_bytes_copied(&mut self, bytes: u64) {
        self.host.bytes_copied_by_embedder += bytes;
    }

    /// The handle of the copying conveniences [`Ftl::write`] / [`Ftl::read`].
    fn internal_handle(&self) -> Handle {
        Handle(self.cache.handles() - 1)
    }

    /// Starts a write of `sectors` sectors at `lba` on handle `h`: returns
    /// the grant whose [`Ftl::write_slots`] the front end fills.
    ///
    /// Fails with [`Error::CacheExhausted`] when commands in flight hold
    /// every slot; retry once some complete.
    pub fn begin_write(&mut self, h: Handle, lba: Lba, sectors: u32) -> FtlResult<WriteGrant, N> {
        self.check_io(h, lba, sectors)?;
        if self.cache.write_open(h) {
            return Err(Error::BadHandle);
        }
        self.cache
            .begin_write(h, lba, sectors)
            .map_err(|_| Error::CacheExhausted)
    }

    /// The slots of a write grant, one per sector in LBA order.
    pub fn write_slots(&self, g: &WriteGrant) -> &[SlotId] {
        self.cache.grant_slots(g)
    }

    fn check_grant(&self, g: &WriteGrant) -> FtlResult<(), N> {
        self.check_handle(g.handle)?;
        if !self.cache.write_open(g.handle) {
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
            let slot = self.cache.grant_slots(&g)[i];
            if result.is_ok() {
                result = self.host_append(Lba(g.lba.0 + i as u64), slot);
            }
            if result.is_err() {
                // A fatal error part-way: the rest of the write is dropped.
                self.cache.drop_reserved(slot);
            }
        }
        self.cache.close_committed(&g);
        self.host.sectors_written += u64::from(g.sectors);
        self.cache.top_up(g.handle);
        result?;
        self.end_update()
    }

    /// Abandons a write: nothing changes, the handle keeps its slots.
    pub fn abort_write(&mut self, g: WriteGrant) {
        if self.check_grant(&g).is_ok() {
            self.cache.close_aborted(&g);
        }
    }

    /// Makes `slot` the newest data of `lba`, programming the host group
    /// once it holds a page.
    fn host_append(&mut self, lba: Lba, slot: SlotId) -> FtlResult<(), N> {
        self.cache.supersede(lba);
        if self.cache.group_is_full(Stream::Host) {
            // Left whole by a failed program: program it first.
            self.program_group(Stream::Host)?;
        }
        let full = self
            .cache
            .append_host(lba, slot)
            .map_err(|_| Error::CacheExhausted)?;
        if full {
            self.program_group(Stream::Host)?;
        }
        Ok(())
    }

    /// The end of every update: writes a checkpoint if one is due, after
    /// collecting garbage if the blocks it may need are short (the meta
    /// stream takes its blocks from the same pool as the host).
    fn end_update(&mut self) -> FtlResult<(), N> {
        self.relieve_map(false)?;
        if self.meta.checkpoint_due(self.flash.layout().ppb) {
            if self.flash.available() < self.gc_target() {
                self.maintain()?;
            }
            self.checkpoint()?;
        }
        Ok(())
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
        let mut l = lba.0;
        while l < end {
            let t = self.flash.translation().page_of(Lba(l));
            let (first, n) = self.flash.translation_entries(t);
            if self.flash.map_cache().is_some() && l == first && end >= first + n as u64 {
                // A whole translation page of a demand-paged map: emptied
                // at once, not entry by entry (paging.rs).
                for s in (first..first + n as u64).map(Lba) {
                    self.cache.supersede(s);
                }
                self.trim_translation_page(t)?;
                l = first + n as u64;
                continue;
            }
            self.cache.supersede(Lba(l));
            self.fault_in(Lba(l))?;
            if let Some(b) = self.flash.unmap(Lba(l)) {
                self.settle(b);
            }
            l += 1;
        }
        self.host.trimmed_sectors += u64::from(sectors);
        if !self.meta.note_trim(lba, sectors) {
            self.log_trims()?;
            let noted = self.meta.note_trim(lba, sectors);
            assert!(noted, "an empty trim record refused a range");
        }
        self.end_update()
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
        self.flush_without_sync()?;
        self.media.sync().map_err(Error::Nand)
    }

    /// [`Ftl::flush`] but the NAND's sync, which the caller runs before it
    /// reports the flush done: a front end that keeps the FTL behind a lock
    /// syncs with the lock released (every program this made is complete,
    /// so a sync started afterwards covers it), and other queues go on
    /// meanwhile.
    pub fn flush_without_sync(&mut self) -> FtlResult<(), N> {
        self.program_group(Stream::Host)?;
        self.log_trims()?;
        self.mark_pending_bad()?;
        self.host.flushes += 1;
        self.end_update()
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
            self.cache.fill_grant(&g, part);
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
            self.cache.copy_out(h, part);
            self.end_read(g);
        }
        Ok(())
    }
}
