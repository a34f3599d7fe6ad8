//! Garbage collection and static wear leveling: both empty a block by
//! moving its valid sectors through the relocation stream.
//!
//! Zero-copy here too: a victim page is read into free slots, the valid
//! ones join the relocation group as they are, the stale ones go back to
//! the free list. The victim turns stale once the group holding its last
//! valid sector is programmed (it may wait in the group for the next
//! victim's data, so GC never pads a page it need not).

use crate::addr::{BlockIdx, Lba, Ppa, SlotId};
use crate::blocks::{BlockState, Stream};
use crate::error::Error;
use crate::gc;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::l2p::LOST;
use crate::nand::Nand;
use crate::slot::{SlotMemory, SlotState};
use crate::wear;

use super::{Ftl, FtlResult};

/// Most static wear-leveling migrations per host block opened.
const MAX_WEAR_MOVES_PER_BLOCK: usize = 4;

/// Why a block is being emptied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    Gc,
    WearLeveling,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Foreground maintenance before a new host block is opened: collect
    /// garbage until enough blocks are free, then at most one static
    /// wear-leveling migration, then pending bad-block marks.
    pub(super) fn maintain(&mut self) -> FtlResult<(), N> {
        if self.in_maintenance {
            return Ok(());
        }
        self.in_maintenance = true;
        let r = self.maintain_inner();
        self.in_maintenance = false;
        r
    }

    fn maintain_inner(&mut self) -> FtlResult<(), N> {
        let spb = self.layout.spb;
        // Each round empties a victim or programs the relocation group, so
        // a bound of twice the block count is never reached in practice; it
        // only guards against a logic error looping forever.
        for _ in 0..2 * self.blocks.len() {
            if self.blocks.available() >= self.cfg.gc_threshold_blocks {
                break;
            }
            match gc::pick_victim(self.cfg.gc_policy, &self.blocks, &self.valid, spb, self.seq) {
                Some(v) => self.relocate(v, Why::Gc)?,
                None if self.fill_pending(Stream::Relocated) => {
                    // Victims wait on a partial relocation group: program it.
                    self.program_fill(Stream::Relocated)?;
                }
                None => break,
            }
        }
        if self.blocks.available() == 0 {
            return Err(Error::NoSpace);
        }
        // A few migrations per new host block keep the spread near the
        // bound without stalling the host for long.
        for _ in 0..MAX_WEAR_MOVES_PER_BLOCK {
            match wear::pick_cold_block(&self.blocks, self.cfg.wear_leveling_bound) {
                Some(b) => self.relocate(b, Why::WearLeveling)?,
                None => break,
            }
        }
        self.rotate_cold_meta()?;
        self.mark_pending_bad()
    }

    /// The meta stream writes little, so its blocks can be the coldest of
    /// all. When one is the least worn and the spread exceeds the bound,
    /// close the meta stream's block and checkpoint: the checkpoint lands in
    /// a fresh block and releases the old ones to the free pool.
    fn rotate_cold_meta(&mut self) -> FtlResult<(), N> {
        let wear = self.blocks.wear();
        if wear.max.saturating_sub(wear.min) <= self.cfg.wear_leveling_bound {
            return Ok(());
        }
        let k = Self::stream_index(Stream::Meta);
        let cold = self
            .meta_blocks
            .iter()
            .any(|&b| self.blocks.erase_count(b) == wear.min);
        if !cold {
            return Ok(());
        }
        if let Some(b) = self.open[k].take() {
            self.blocks.set_state(b, BlockState::Meta);
        }
        self.stats.wear_level_moves += 1;
        self.checkpoint()
    }

    fn fill_pending(&self, stream: Stream) -> bool {
        self.fill[Self::stream_index(stream)].is_some_and(|e| !self.meta.is_empty(e))
    }

    /// Moves every valid sector of `victim` into the relocation stream.
    pub(super) fn relocate(&mut self, victim: BlockIdx, why: Why) -> FtlResult<(), N> {
        self.blocks.set_collecting(victim, true);
        let spp = self.layout.spp as usize;
        let mut moved = 0u64;
        for page in 0..self.blocks.next_page(victim) {
            let ppa = Ppa::new(victim, page);
            if !self.valid.page_has_valid(ppa) {
                continue;
            }
            let mut ids = [SlotId(0); MAX_SECTORS_PER_PAGE];
            self.take_page_slots(SlotState::Relocating, 0, &mut ids)?;
            let rec = match self.read_page_into(ppa, &ids[..spp]) {
                Ok(rec) => Some(rec),
                Err(Error::Uncorrectable { .. }) => None,
                Err(e) => {
                    self.release_slots(&ids[..spp]);
                    return Err(e);
                }
            };
            self.stats.nand_sectors_read += spp as u64;
            for (i, &slot) in ids[..spp].iter().enumerate() {
                let psa = self.layout.psa(ppa, i);
                let lba = rec
                    .and_then(|r| r.lba(i))
                    .filter(|&l| self.l2p.get(l) == psa);
                match (self.valid.is_valid(psa), lba) {
                    (true, Some(l)) => {
                        if let Err(e) = self.push_relocated(l, slot, psa) {
                            // The rest of this page's slots go back (found
                            // by fuzzing: NoSpace here leaked them).
                            self.release_slots(&ids[i + 1..spp]);
                            return Err(e);
                        }
                        moved += 1;
                    }
                    (true, None) => {
                        self.slots.release(slot);
                        self.lose_sector(psa);
                    }
                    (false, _) => self.slots.release(slot),
                }
            }
        }
        match why {
            Why::Gc => {
                self.stats.gc_runs += 1;
                self.stats.gc_moved_sectors += moved;
            }
            Why::WearLeveling => {
                self.stats.wear_level_moves += 1;
                self.stats.wear_level_moved_sectors += moved;
            }
        }
        Ok(())
    }

    fn push_relocated(&mut self, lba: Lba, slot: SlotId, src: u32) -> FtlResult<(), N> {
        let e = match self.fill_entry(Stream::Relocated) {
            Ok(e) => e,
            Err(err) => {
                self.slots.release(slot);
                return Err(err);
            }
        };
        self.slot_entry[slot.0 as usize] = e.0;
        if self.meta.push(e, slot, lba.0 as u32, src) {
            self.program_fill(Stream::Relocated)?;
        }
        Ok(())
    }

    /// A valid sector whose page no longer reads back: the LBAs mapped to
    /// it fail reads until rewritten (found by scanning the L2P: this is
    /// the rare path, and the OOB naming them is what failed).
    fn lose_sector(&mut self, psa: u32) {
        let mut lost = 0;
        while let Some(l) = self.l2p.find(|x| x == psa) {
            self.l2p.set(l, LOST);
            lost += 1;
        }
        debug_assert!(lost <= 1);
        self.invalidate(psa);
    }
}
