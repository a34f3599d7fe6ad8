//! Maintenance: garbage collection and static wear leveling, run as an
//! explicit step before the host stream opens a new block.
//!
//! Both empty a block by moving its valid sectors through the relocation
//! stream. Zero-copy here too: a victim page is read into free slots, the
//! valid ones join the relocation group as they are, the stale ones go
//! back to the free list. The victim turns stale once the group holding its
//! last valid sector is programmed (it may wait in the group for the next
//! victim's data, so GC never pads a page it need not).
//!
//! Maintenance programs the relocation and meta streams only, never the
//! host stream, so it never runs inside itself.

use crate::addr::{BlockIdx, Lba, Ppa, Psa, SlotId};
use crate::blocks::Stream;
use crate::error::Error;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::nand::Nand;
use crate::slot::{SlotMemory, SlotState};

use super::media::ReadFailure;
use super::{Ftl, FtlResult};

/// Most static wear-leveling migrations per host block opened.
const MAX_WEAR_MOVES_PER_BLOCK: usize = 4;

/// What maintenance did.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MaintCounters {
    pub gc_runs: u64,
    pub gc_moved_sectors: u64,
    pub wear_level_moves: u64,
    pub wear_level_moved_sectors: u64,
}

/// Why a block is being emptied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Gc,
    WearLeveling,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Foreground maintenance before a new host block is opened: collect
    /// garbage until enough blocks are free, then a few static
    /// wear-leveling migrations, then pending bad-block marks.
    pub(super) fn maintain(&mut self) -> FtlResult<(), N> {
        // Each round empties a victim or programs the relocation group, so
        // a bound of twice the block count is never reached in practice; it
        // only guards against a logic error looping forever.
        for _ in 0..2 * self.flash.block_count() {
            if self.flash.available() >= self.gc_target() {
                break;
            }
            // Between victims: room in the map cache for the next one.
            self.relieve_map(false)?;
            match self.flash.gc_victim(self.cfg.gc_policy, self.media.seq()) {
                Some(v) => self.relocate(v, Why::Gc)?,
                // Victims wait on a partial relocation group: program it.
                None if self.cache.group_pending(Stream::Relocated) => {
                    self.program_group(Stream::Relocated)?
                }
                None => break,
            }
        }
        if self.flash.available() == 0 {
            return Err(Error::NoSpace);
        }
        // A few migrations per new host block keep the spread near the
        // bound without stalling the host for long.
        for _ in 0..MAX_WEAR_MOVES_PER_BLOCK {
            match self.flash.cold_block(self.cfg.wear_leveling_bound) {
                Some(b) => self.relocate(b, Why::WearLeveling)?,
                None => break,
            }
        }
        self.rotate_cold_meta()?;
        self.mark_pending_bad()
    }

    /// Blocks GC keeps available: the threshold, plus what the meta stream
    /// may still take of its reserve (`FtlConfig::meta_blocks`). Those
    /// blocks are not the data streams' to fill: a meta stream growing to
    /// its limit (write-backs under map pressure do) would otherwise eat
    /// the block GC relocates into.
    pub(super) fn gc_target(&self) -> u32 {
        let limit = self.meta_limit;
        self.cfg.gc_threshold_blocks + limit.saturating_sub(self.meta.block_count())
    }

    /// The meta stream's blocks can be the coldest of all (a translation
    /// page of cold data is never rewritten). When one is the least worn
    /// and the spread exceeds the bound, checkpoint while evacuating it:
    /// its live pages are written again elsewhere and it returns to the
    /// free pool.
    fn rotate_cold_meta(&mut self) -> FtlResult<(), N> {
        let wear = self.flash.wear();
        if wear.max.saturating_sub(wear.min) <= self.cfg.wear_leveling_bound {
            return Ok(());
        }
        let cold = self
            .meta
            .blocks()
            .find(|&b| self.flash.erase_count(b) == wear.min);
        let Some(cold) = cold else {
            return Ok(());
        };
        self.maint.wear_level_moves += 1;
        self.checkpoint_cleaning(Some(cold))
    }

    /// Moves every valid sector of `victim` into the relocation stream.
    fn relocate(&mut self, victim: BlockIdx, why: Why) -> FtlResult<(), N> {
        self.flash.set_collecting(victim);
        let spp = self.flash.layout().spp as usize;
        let mut moved = 0u64;
        for page in 0..self.flash.next_page(victim) {
            let ppa = Ppa::new(victim, page);
            if !self.flash.page_has_valid(ppa) {
                continue;
            }
            let mut ids = [SlotId(0); MAX_SECTORS_PER_PAGE];
            self.cache
                .take_page_slots(SlotState::Relocating, 0, &mut ids[..spp])
                .map_err(|_| Error::CacheExhausted)?;
            let rec = match self.read_into_slots(ppa, &ids[..spp]) {
                Ok(rec) => Some(rec),
                Err(ReadFailure::Unreadable) => None,
                Err(ReadFailure::Nand(e)) => {
                    self.cache.release_slots(&ids[..spp]);
                    return Err(Error::Nand(e));
                }
            };
            for (i, &slot) in ids[..spp].iter().enumerate() {
                let psa = self.flash.layout().psa(ppa, i);
                let valid = self.flash.is_valid(psa);
                let named = rec
                    .and_then(|r| r.lba(i))
                    .filter(|l| valid && l.0 < self.logical);
                if let Some(l) = named {
                    if let Err(e) = self.fault_in(l) {
                        self.cache.release_slots(&ids[i..spp]);
                        return Err(e);
                    }
                }
                let lba = named.filter(|&l| self.flash.is_current(l, psa));
                match (valid, lba) {
                    (true, Some(l)) => {
                        if let Err(e) = self.push_relocated(l, slot, psa) {
                            // The rest of this page's slots go back (found
                            // by fuzzing: NoSpace here leaked them).
                            self.cache.release_slots(&ids[i + 1..spp]);
                            return Err(e);
                        }
                        moved += 1;
                    }
                    (true, None) => {
                        self.cache.release_slots(&[slot]);
                        let l = match self.lba_at(psa) {
                            Ok(l) => l,
                            Err(e) => {
                                self.cache.release_slots(&ids[i + 1..spp]);
                                return Err(e);
                            }
                        };
                        let b = self.flash.lose(psa, l);
                        self.settle(b);
                    }
                    (false, _) => self.cache.release_slots(&[slot]),
                }
            }
        }
        self.count(why, moved);
        Ok(())
    }

    /// Adds a sector read from `src` to the relocation group, programming
    /// the group when it is a whole page. On failure `slot` is not leaked.
    fn push_relocated(&mut self, lba: Lba, slot: SlotId, src: Psa) -> FtlResult<(), N> {
        if self.cache.group_is_full(Stream::Relocated) {
            // Left whole by a failed program: program it first.
            if let Err(e) = self.program_group(Stream::Relocated) {
                self.cache.release_slots(&[slot]);
                return Err(e);
            }
        }
        match self.cache.append_relocated(lba, slot, src) {
            Ok(true) => self.program_group(Stream::Relocated),
            Ok(false) => Ok(()),
            Err(_) => Err(Error::CacheExhausted),
        }
    }

    fn count(&mut self, why: Why, moved: u64) {
        match why {
            Why::Gc => {
                self.maint.gc_runs += 1;
                self.maint.gc_moved_sectors += moved;
            }
            Why::WearLeveling => {
                self.maint.wear_level_moves += 1;
                self.maint.wear_level_moved_sectors += moved;
            }
        }
    }
}
