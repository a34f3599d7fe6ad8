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

/// What GC found a victim's sector to be.
enum Sector {
    /// Current data of this LBA: it moves.
    Moves(Lba),
    /// Current data that cannot be read: its LBA is lost.
    Lost,
    /// Not current.
    Stale,
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
    ///
    /// With validity kept per sector, only pages holding valid sectors are
    /// read and each sector's bit says whether it moves. With counts only
    /// (a demand-paged map), every page is read until the block's count is
    /// accounted for, and a sector moves if the LBA its record names still
    /// maps there. A page that does not read back loses its valid sectors
    /// (their reads fail from then on) and retires the block.
    fn relocate(&mut self, victim: BlockIdx, why: Why) -> FtlResult<(), N> {
        self.flash.set_collecting(victim);
        let spp = self.flash.layout().spp as usize;
        let valid_before = u64::from(self.flash.valid_count(victim));
        // Valid sectors found so far: moved, or lost (unreadable).
        let (mut moved, mut lost) = (0u64, 0u64);
        for page in 0..self.flash.next_page(victim) {
            if moved + lost == valid_before {
                break;
            }
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
                Err(ReadFailure::Unreadable) => {
                    self.flash.read_failed(victim);
                    None
                }
                Err(ReadFailure::Nand(e)) => {
                    self.cache.release_slots(&ids[..spp]);
                    return Err(Error::Nand(e));
                }
            };
            for (i, &slot) in ids[..spp].iter().enumerate() {
                let psa = self.flash.layout().psa(ppa, i);
                match self.sort_sector(psa, rec.is_some(), rec.and_then(|r| r.lba(i))) {
                    Ok(Sector::Moves(l)) => {
                        if let Err(e) = self.push_relocated(l, slot, psa) {
                            // The rest of this page's slots go back (found
                            // by fuzzing: NoSpace here leaked them).
                            self.cache.release_slots(&ids[i + 1..spp]);
                            return Err(e);
                        }
                        moved += 1;
                    }
                    Ok(Sector::Lost) => {
                        self.cache.release_slots(&[slot]);
                        lost += 1;
                    }
                    Ok(Sector::Stale) => self.cache.release_slots(&[slot]),
                    Err(e) => {
                        self.cache.release_slots(&ids[i..spp]);
                        return Err(e);
                    }
                }
            }
        }
        if moved + lost < valid_before {
            self.find_unnamed_claims(victim)?;
        }
        self.count(why, moved);
        Ok(())
    }

    /// What GC does with the sector at `psa`, whose page's record was
    /// `readable` and names `named` for it (`None`: padding, or not read).
    fn sort_sector(
        &mut self,
        psa: Psa,
        readable: bool,
        named: Option<Lba>,
    ) -> FtlResult<Sector, N> {
        let bit = self.flash.sector_valid(psa);
        if bit == Some(false) {
            return Ok(Sector::Stale);
        }
        let named = named.filter(|l| l.0 < self.logical);
        if let Some(l) = named {
            self.fault_in(l)?;
            if self.flash.is_current(l, psa) {
                return Ok(Sector::Moves(l));
            }
        }
        // Valid per its bit, or unreadable with only counts kept: the LBA
        // mapped here (if any) can no longer be read. (Padding in a
        // readable page is nobody's.)
        if bit == Some(true) || !readable {
            if let Some(l) = self.lba_at(psa)? {
                let b = self.flash.lose(psa, Some(l));
                self.settle(b);
                return Ok(Sector::Lost);
            }
            if bit == Some(true) {
                // Marked valid, mapped by nobody: only the bit was wrong.
                let b = self.flash.lose(psa, None);
                self.settle(b);
                return Ok(Sector::Lost);
            }
        }
        Ok(Sector::Stale)
    }

    /// The rare path of counts-only validity: `victim` counts valid sectors
    /// that no readable record named (corrupted media: two LBAs claiming
    /// one sector). Moves what is pending, then asks the map for each
    /// sector; what it still maps there is lost.
    fn find_unnamed_claims(&mut self, victim: BlockIdx) -> FtlResult<(), N> {
        if self.cache.group_pending(Stream::Relocated) {
            self.program_group(Stream::Relocated)?;
        }
        let layout = *self.flash.layout();
        for page in 0..self.flash.next_page(victim) {
            for i in 0..layout.spp as usize {
                if self.flash.valid_count(victim) == 0 {
                    return Ok(());
                }
                let psa = layout.psa(Ppa::new(victim, page), i);
                if let Some(l) = self.lba_at(psa)? {
                    let b = self.flash.lose(psa, Some(l));
                    self.settle(b);
                }
            }
        }
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
