//! Programming cache groups to flash, and the block allocator behind it.
//!
//! A group's slots go to the NAND as one page, straight from the slots (the
//! scatter list names them; nothing is copied). Only after the program
//! succeeds does the map move to the new location and the old copies turn
//! stale, so a power cut never leaves an LBA pointing at nothing.
//!
//! Programming a group is four jobs, one function each: find the page
//! (`frontier_page`, which runs maintenance before the host stream opens a
//! block), decide which sectors are still current (`current_lbas`), program
//! (`program_page`, retrying on a fresh block after a program failure) and
//! record the result (`remap_group`, then the cache and block bookkeeping).

use crate::addr::{BlockIdx, Lba, Ppa, SlotId};
use crate::blocks::Stream;
use crate::cache_meta::EntryId;
use crate::error::Error;
use crate::format::oob::{PageKind, PageRecord};
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::slot::SlotMemory;

use super::media::ReadFailure;
use super::{Ftl, FtlResult};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Programs the stream's group (padded if partial) and updates the
    /// map. A program failure retires the block and retries on a fresh one;
    /// the data never left its slots, so nothing is lost.
    pub(super) fn program_group(&mut self, stream: Stream) -> FtlResult<(), N> {
        let Some(e) = self.cache.group(stream) else {
            return Ok(());
        };
        // Trims before this page must be on flash before it (ordering).
        self.log_trims()?;
        // A demand-paged map reads the group's entries in now and keeps
        // them until the remap: nothing is read in or written back between
        // the program and the remap (see paging.rs).
        let mut pinned = [None; MAX_SECTORS_PER_PAGE];
        for (i, p) in pinned[..self.cache.group_len(e)].iter_mut().enumerate() {
            let Some(lba) = self.cache.group_sector(e, i).0 else {
                continue;
            };
            if let Err(err) = self.fault_in(lba) {
                self.unpin(&pinned);
                return Err(err);
            }
            self.flash.pin(lba);
            *p = Some(lba);
        }
        let r = self.program_pinned_group(stream, e);
        self.unpin(&pinned);
        r
    }

    fn unpin(&mut self, lbas: &[Option<Lba>]) {
        for l in lbas.iter().flatten() {
            self.flash.unpin(*l);
        }
    }

    /// [`Ftl::program_group`] once the group's entries are pinned.
    fn program_pinned_group(&mut self, stream: Stream, e: EntryId) -> FtlResult<(), N> {
        let (ppa, lbas) = loop {
            let ppa = self.frontier_page(stream)?;
            self.cache.begin_program(e, ppa);
            let lbas = self.current_lbas(e);
            match self.program_page(e, ppa, stream, &lbas) {
                Ok(()) => break (ppa, lbas),
                Err(err) => {
                    self.cache.program_failed(e);
                    if err.kind() != NandErrorKind::ProgramFailed {
                        return Err(Error::Nand(err));
                    }
                    self.flash.program_failed(stream, ppa.block);
                    self.settle(ppa.block);
                }
            }
        };
        self.remap_group(ppa, &lbas);
        match stream {
            Stream::Host => {
                self.cache.host_group_programmed(e);
                self.meta
                    .host_page_written(self.cfg.translation_write_permille);
            }
            Stream::Relocated => {
                let mut srcs = [None; MAX_SECTORS_PER_PAGE];
                let n = self.cache.relocated_group_programmed(e, &mut srcs);
                let layout = *self.flash.layout();
                for src in srcs[..n].iter().flatten() {
                    self.settle(layout.block(*src));
                }
            }
            Stream::Meta => unreachable!("meta pages are not cache groups"),
        }
        self.settle(ppa.block);
        match self.flash.lane_of_open(stream, ppa.block) {
            Some(lane) => self.write_summary(stream, lane),
            None => Ok(()),
        }
    }

    /// The LBA each sector of group `e` still holds. A relocated copy made
    /// stale while it waited is forgotten, or recovery could resurrect it.
    fn current_lbas(&mut self, e: EntryId) -> [Option<Lba>; MAX_SECTORS_PER_PAGE] {
        let mut lbas = [None; MAX_SECTORS_PER_PAGE];
        for (i, out) in lbas[..self.cache.group_len(e)].iter_mut().enumerate() {
            let (lba, src) = self.cache.group_sector(e, i);
            *out = match (lba, src) {
                (Some(l), Some(p)) if !self.flash.is_current(l, p) => {
                    self.cache.forget_stale(e, i);
                    None
                }
                (lba, _) => lba,
            };
        }
        lbas
    }

    /// Programs group `e` at `ppa`, straight from its slots.
    fn program_page(
        &mut self,
        e: EntryId,
        ppa: Ppa,
        stream: Stream,
        lbas: &[Option<Lba>; MAX_SECTORS_PER_PAGE],
    ) -> Result<(), N::Error> {
        let kind = match stream {
            Stream::Host => PageKind::Host,
            Stream::Relocated | Stream::Meta => PageKind::Relocated,
        };
        let n = self.cache.group_len(e);
        let spp = self.flash.layout().spp as usize;
        let erase_count = self.flash.erase_count(ppa.block);
        let mut bufs: [&[u8]; MAX_SECTORS_PER_PAGE] = [&[]; MAX_SECTORS_PER_PAGE];
        self.cache.page_data(e, &mut bufs);
        let seq = self
            .media
            .program(ppa, kind, &lbas[..n], &bufs[..spp], erase_count)?;
        self.flash.programmed(ppa.block, seq.0);
        let mut raw = [crate::format::oob::NO_LBA; MAX_SECTORS_PER_PAGE];
        for (r, l) in raw.iter_mut().zip(&lbas[..n]) {
            // The geometry bounds LBAs below 2³²: the cast is exact.
            *r = l.map_or(crate::format::oob::NO_LBA, |l| l.0 as u32);
        }
        self.flash.summarize(stream, ppa, seq.0, &raw[..spp]);
        Ok(())
    }

    /// Points each current LBA of the page just programmed at `ppa`; their
    /// old copies turn stale.
    fn remap_group(&mut self, ppa: Ppa, lbas: &[Option<Lba>; MAX_SECTORS_PER_PAGE]) {
        for (i, lba) in lbas.iter().enumerate() {
            let Some(lba) = *lba else { continue };
            let psa = self.flash.layout().psa(ppa, i);
            if let Some(old) = self.flash.remap(lba, psa) {
                self.settle(old);
            }
        }
    }

    /// The next page of the stream's frontier, opening a new block when it
    /// is full. Before the host stream opens one, maintenance runs: an
    /// explicit step, and the only place it runs from.
    ///
    /// With lanes, pages go round robin over the lanes' open blocks. Each
    /// host lane's new block comes after maintenance, as without lanes, so
    /// the GC reserve is whole before it is taken. A relocation lane (GC
    /// runs because blocks are short) gets a block only if it is the
    /// stream's last lane with room, or if more blocks are available than
    /// GC keeps (`gc_target`): otherwise it is passed over, so relocation
    /// lanes never eat the reserve GC relocates into, and under pressure
    /// GC writes one lane at a time, as without lanes.
    pub(super) fn frontier_page(&mut self, stream: Stream) -> FtlResult<Ppa, N> {
        loop {
            if let Some(ppa) = self.flash.advance(stream) {
                return Ok(ppa);
            }
            let lane = self.flash.lane(stream);
            // Its summary was left unwritten (an error between the last
            // data page and it): write it, the block is then full.
            self.write_summary(stream, lane)?;
            if stream == Stream::Relocated
                && self.flash.other_lane_has_room(stream)
                && self.flash.available() <= self.gc_target()
            {
                self.flash.next_lane(stream);
                continue;
            }
            if stream == Stream::Host {
                // Programs only the relocation and meta streams. With one
                // data stream their moves share the host's lanes, so they
                // may have opened the current lane's block or moved the
                // cursor on: take the lane as it now stands.
                self.maintain()?;
                if self.flash.open_block(stream).is_some() {
                    continue;
                }
            }
            let b = self.alloc_block(Some(self.flash.lane(stream)))?;
            self.flash.open(stream, b);
            if stream == Stream::Meta {
                self.meta.add_block(b);
            }
        }
    }

    /// Takes the least-worn available block, on `lane` if one is there,
    /// erasing it if it is stale.
    ///
    /// When only blocks held by pending trims are left, the trims are
    /// logged first: the meta stream always has a page ready, so that
    /// allocates nothing, and it empties the pending list before it
    /// programs, so it cannot come back here with trims pending.
    pub(super) fn alloc_block(&mut self, lane: Option<u32>) -> FtlResult<BlockIdx, N> {
        loop {
            let Some((b, stale)) = self.flash.pick_free(lane) else {
                if self.meta.has_pending_trims() {
                    self.log_trims()?;
                    continue;
                }
                return Err(Error::NoSpace);
            };
            if stale && !self.erase(b)? {
                continue; // the erase failed: retired, pick another
            }
            return Ok(b);
        }
    }

    /// Erases `b`. `Ok(false)` if the erase failed and the block is retired.
    pub(super) fn erase(&mut self, b: BlockIdx) -> FtlResult<bool, N> {
        let ok = self.media.erase(b).map_err(Error::Nand)?;
        if ok {
            self.flash.erased(b);
        } else {
            self.flash.retire(b);
        }
        Ok(ok)
    }

    /// Writes the bad-block marks decided since the last call.
    pub(super) fn mark_pending_bad(&mut self) -> FtlResult<(), N> {
        while let Some(b) = self.flash.next_bad_mark() {
            if let Err(err) = self.media.mark_bad_block(b) {
                if err.kind() == NandErrorKind::PowerLoss {
                    self.flash.bad_mark_pending(b);
                    return Err(Error::Nand(err));
                }
                // The table already treats it as bad; a failed mark only
                // matters after a restart, where the block's garbage will
                // not verify and it is erased (and fails) again.
            }
        }
        Ok(())
    }

    /// Reads page `ppa` straight into `ids` (one slot per sector) and checks
    /// its record and data checksum: never trust unverified data.
    pub(super) fn read_into_slots(
        &mut self,
        ppa: Ppa,
        ids: &[SlotId],
    ) -> Result<PageRecord, ReadFailure<N::Error>> {
        let mut bufs: [&mut [u8]; MAX_SECTORS_PER_PAGE] = Default::default();
        let n = ids.len();
        self.cache.slots_for_read(ids, &mut bufs[..n]);
        self.media.read_verified(ppa, &mut bufs[..n])
    }
}
